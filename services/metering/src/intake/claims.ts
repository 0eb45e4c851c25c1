import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { BillingEvent } from '@vault/contracts';
import { asSentHash, legacyContentHash } from '../domain/content-hash.ts';

export interface ClaimCandidate {
  source: string;
  id: string;
  contentHash: string;
  /** The hash this content was claimed with before `time` was hashed as its instant (asSentHash), when it differs. */
  asSentHash?: string | undefined;
}

export interface Claim {
  /** True when this answer claimed the key: it, and no other, counts the event accepted. */
  ours: boolean;
  /** The content of the first answer that claimed the key. */
  contentHash: string;
}

/** Set on a refused marker (refuseClaims): no answer's own id. */
const NO_ANSWER = '00000000-0000-0000-0000-000000000000';

/**
 * Claims each `(source, id)` for one intake answer, after its publish is
 * durable: exactly one of concurrent answers carrying a key inserts its row
 * and counts the event accepted; the others see the row and count a duplicate
 * (same content) or a reuse. A claim the store refused (refuseClaims) is taken
 * over by other content: that event is what the consumer will apply. Keys are
 * inserted sorted, so two answers wait on each other in one order and never
 * deadlock. Candidates must be distinct keys.
 */
export async function claimKeys(pool: pg.Pool, candidates: ClaimCandidate[]): Promise<Claim[]> {
  if (candidates.length === 0) return [];
  const claim = randomUUID();
  const sources = candidates.map((c) => c.source);
  const ids = candidates.map((c) => c.id);
  // A claim of this content by its hash of before (time as written) is proposed with that hash, so a
  // refused one is not taken over by the same event as if it were other content.
  await pool.query(
    `insert into metering.intake_claims (source, id, content_hash, claim)
     select source, id,
            case when as_sent is null then content_hash
                 else coalesce((select c.content_hash from metering.intake_claims c
                                 where c.source = k.source and c.id = k.id and c.content_hash = k.as_sent), content_hash) end,
            $4::uuid
       from unnest($1::text[], $2::text[], $3::text[], $5::text[]) as k(source, id, content_hash, as_sent)
      order by source collate "C", id collate "C"
     on conflict (source, id) do update
        set content_hash = excluded.content_hash, claim = excluded.claim, claimed_at = now(), refused = false
      where intake_claims.refused and intake_claims.content_hash <> excluded.content_hash`,
    [sources, ids, candidates.map((c) => c.contentHash), claim, candidates.map((c) => c.asSentHash ?? null)],
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

/** The claim on one key, if any: what the re-submit looks at before it publishes. */
export async function claimOf(
  pool: pg.Pool,
  key: { source: string; id: string },
): Promise<{ contentHash: string; refused: boolean } | undefined> {
  const { rows } = await pool.query<{ content_hash: string; refused: boolean }>(
    'select content_hash, refused from metering.intake_claims where source = $1 and id = $2',
    [key.source, key.id],
  );
  return rows[0] && { contentHash: rows[0].content_hash, refused: rows[0].refused };
}

/**
 * In the consumer's transaction that store-refuses these valid events: each
 * key's claim of that content is marked refused, atomically with the
 * rejection. A marker is inserted where no claim is yet (the answer claims
 * after its publish, which the consumer may read first); that late claim, of
 * the same content, then finds it and is told a duplicate, not taken over. A
 * claim of other content is another event, still to be applied: left alone.
 * A claim of this content made before its hash changed holds the hash of then
 * (asSentHash, legacyContentHash, as `verdict` takes them): it is the one
 * marked, its hash kept. Those are computed here only, for the few refused.
 */
export async function refuseClaims(client: pg.PoolClient, refused: { event: BillingEvent; contentHash: string }[]): Promise<void> {
  const byKey = new Map(refused.map((r) => [`${r.event.source}\u0000${r.event.id}`, r]));
  if (byKey.size === 0) return;
  const distinct = [...byKey.values()];
  // The marker proposes the hash a claim of this content holds, so the update below finds it.
  await client.query(
    `insert into metering.intake_claims (source, id, content_hash, claim, refused)
     select source, id,
            coalesce((select c.content_hash from metering.intake_claims c
                       where c.source = k.source and c.id = k.id and c.content_hash = any(array[k.as_sent, k.legacy])),
                     content_hash),
            $4::uuid, true
       from unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[]) as k(source, id, content_hash, as_sent, legacy)
      order by source collate "C", id collate "C"
     on conflict (source, id) do update set refused = true
      where intake_claims.content_hash = excluded.content_hash`,
    [
      distinct.map((r) => r.event.source),
      distinct.map((r) => r.event.id),
      distinct.map((r) => r.contentHash),
      NO_ANSWER,
      distinct.map((r) => asSentHash(r.event) ?? null),
      distinct.map((r) => legacyContentHash(r.event) ?? null),
    ],
  );
}
