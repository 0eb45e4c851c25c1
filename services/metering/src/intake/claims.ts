import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface ClaimCandidate {
  source: string;
  id: string;
  contentHash: string;
}

export interface Claim {
  /** True when this answer claimed the key: it, and no other, counts the event accepted. */
  ours: boolean;
  /** The content of the first answer that claimed the key. */
  contentHash: string;
}

/**
 * Claims each `(source, id)` for one intake answer, after its publish is
 * durable: exactly one of concurrent answers carrying a key inserts its row
 * and counts the event accepted; the others see the row and count a duplicate
 * (same content) or a reuse. Keys are inserted sorted, so two answers wait on
 * each other in one order and never deadlock. Candidates must be distinct keys.
 */
export async function claimKeys(pool: pg.Pool, candidates: ClaimCandidate[]): Promise<Claim[]> {
  if (candidates.length === 0) return [];
  const claim = randomUUID();
  const sources = candidates.map((c) => c.source);
  const ids = candidates.map((c) => c.id);
  await pool.query(
    `insert into metering.intake_claims (source, id, content_hash, claim)
     select source, id, content_hash, $4::uuid
       from unnest($1::text[], $2::text[], $3::text[]) as k(source, id, content_hash)
      order by source collate "C", id collate "C"
     on conflict do nothing`,
    [sources, ids, candidates.map((c) => c.contentHash), claim],
  );
  // A statement of its own: a row another answer committed while ours waited
  // on it is visible only to a new snapshot. One index probe per key.
  const { rows } = await pool.query<{ n: number; content_hash: string; ours: boolean }>(
    `select k.n::int as n, c.content_hash, c.claim = $3::uuid as ours
       from unnest($1::text[], $2::text[]) with ordinality as k(source, id, n)
      cross join lateral (
        select content_hash, claim from metering.intake_claims c
         where c.source = k.source and c.id = k.id limit 1
      ) c`,
    [sources, ids, claim],
  );
  // A claim is deleted only when its event is archived (its key answered by the stored probe
  // before any claim), so every key is found; the default only types the array.
  const claims: Claim[] = candidates.map((c) => ({ ours: true, contentHash: c.contentHash }));
  for (const r of rows) claims[r.n - 1] = { ours: r.ours, contentHash: r.content_hash };
  return claims;
}
