import { createHash } from 'node:crypto';
import type pg from 'pg';
import { arrayLiteral } from '@vault/db';
import { ID_REUSED_REASON } from '@vault/contracts';
import { verdict } from '../domain/content-hash.ts';
import { clean, type InvalidInput, type Judged, type ValidInput } from '../domain/judge.ts';
import { type ArchivedStart, storeAndDerive } from './derive-usage.ts';
import { type Outcomes, sourceOf, tally } from './message-counts.ts';
import { type BatchBounds, batchBounds, eventKey, storedHashes } from './stored-hashes.ts';
import { HORIZON_LOCK, storeRefusal } from './usage-horizon.ts';

export interface BatchResult {
  applied: number;
  duplicates: number;
  /** Newly kept rejections (the same bytes rejected before count as duplicates). */
  rejected: InvalidInput[];
  /**
   * The valid events the store refused here (an archived subject's past, a time
   * before the horizon), their rejection newly kept or a duplicate of kept bytes:
   * applyRefusing marks every one's claim refused.
   */
  storeRefused: ValidInput[];
  /** Subjects whose usage was derived again. */
  subjects: number;
  /** The same outcomes, per source. */
  bySource: Outcomes;
}

/**
 * Applies one batch inside the caller's transaction: new events are stored,
 * duplicates counted, an id reused with other content rejected, and the usage
 * of every subject touched derived again. A fixed number of statements,
 * whatever the batch size.
 *
 * Only the events of subjects with a history are looked up by key: a stored
 * copy of an event carries its subject, so an event of a new subject is no
 * duplicate. It can still reuse the id of another subject's event; the keys'
 * unique index refuses the batch then, and `probeEvery` (applyRefusing's
 * second try) looks every key up and rejects the reuse.
 */
export async function applyBatch(
  client: pg.PoolClient,
  input: Judged,
  probeEvery = false,
  deferred?: InvalidInput[],
): Promise<BatchResult> {
  const rejecting = [...input.invalid];
  let duplicates = 0;
  const bySource: Outcomes = new Map();
  const subjectsOf = input.valid.map((v) => v.event.subject);
  await lockSubjects(client, subjectsOf);
  // An archived subject's history is in files: a new event of it is refused, never derived alone.
  // Usage before the horizon is final: an event timed before it is refused too.
  const bounds = await batchBounds(client, subjectsOf);
  const stored = await storedHashes(
    client,
    input.valid.flatMap((v) => (probeEvery || bounds.known.has(v.event.subject) ? [v.event] : [])),
  );
  const { toInsert, duplicated } = firstCopies(input.valid, stored, bySource, rejecting);
  duplicates += duplicated;
  const { storing, refused } = await storable(client, toInsert, bounds, probeEvery);
  const storeRefused: ValidInput[] = [];
  for (const [item, outcome] of refused) {
    tally(bySource, sourceOf(item), 'applied', -1);
    if (outcome !== 'duplicate') {
      rejecting.push(outcome);
      if (outcome.reasons.some((x) => x.code === 'store_refused')) storeRefused.push(item);
    } else {
      duplicates++;
      tally(bySource, sourceOf(item), 'duplicate');
    }
  }
  // Open subjects with archived events are derived from their kept events on.
  const starts = new Map<string, ArchivedStart>();
  for (const [subject, a] of bounds.subjects) {
    if (!a.closed && a.frozenBefore)
      starts.set(subject, { archivedEvents: a.lastSequence, frozenBefore: a.frozenBefore, service: a.service });
  }
  // In key order: two batches inserting the same reused ids wait for each other in one order, never crossed.
  const subjects = await storeAndDerive(client, byKey(storing), bounds.known, starts);
  // Kept and counted by a later call (the isolation's last), after every event key is inserted.
  if (deferred) {
    deferred.push(...rejecting);
    return { applied: storing.length, duplicates, rejected: [], storeRefused, subjects: subjects.length, bySource };
  }

  const rejected = await keepRejections(client, rejecting);
  duplicates += rejecting.length - rejected.length;
  // Bytes rejected before (or earlier in this batch) are duplicates; each kept one a rejection.
  for (const r of rejecting) tally(bySource, sourceOf(r), 'duplicate');
  for (const r of rejected) {
    tally(bySource, sourceOf(r), 'duplicate', -1);
    tally(bySource, sourceOf(r), 'rejected');
  }
  return { applied: storing.length, duplicates, rejected, storeRefused, subjects: subjects.length, bySource };
}

/**
 * The new events among `valid`, each key's first copy in the batch standing
 * for its later ones; a copy of a stored event or of an earlier one is a
 * duplicate, an id reused with other content a rejection. Apart from
 * applyBatch so its key strings die before the batch's next statement (a
 * live local there is kept across every await).
 */
function firstCopies(
  valid: ValidInput[],
  stored: Map<string, string>,
  bySource: Outcomes,
  rejecting: InvalidInput[],
): { toInsert: ValidInput[]; duplicated: number } {
  const firstOfBatch = new Map<string, string>();
  const toInsert: ValidInput[] = [];
  let duplicated = 0;
  for (const item of valid) {
    const key = eventKey(item.event);
    const earlier = stored.get(key) ?? firstOfBatch.get(key);
    switch (verdict(earlier, item)) {
      case 'new':
        firstOfBatch.set(key, item.contentHash);
        toInsert.push(item);
        tally(bySource, sourceOf(item), 'applied');
        break;
      case 'duplicate':
        duplicated++;
        tally(bySource, sourceOf(item), 'duplicate');
        break;
      case 'reused':
        rejecting.push(reused(item));
    }
  }
  return { toInsert, duplicated };
}

/**
 * The new events the store takes, and what becomes of those it refuses: an
 * archived subject's past, a time before the usage horizon. A refused event
 * not looked up by key yet (its subject has no history) is looked up now: an
 * id of another subject's stored event is rejected as reused whatever its
 * time, as the intake answers it.
 */
async function storable(
  client: pg.PoolClient,
  toInsert: ValidInput[],
  bounds: BatchBounds,
  probedAll: boolean,
): Promise<{ storing: ValidInput[]; refused: [ValidInput, InvalidInput | 'duplicate'][] }> {
  if (bounds.subjects.size === 0 && bounds.horizon === null) return { storing: toInsert, refused: [] };
  const storing: ValidInput[] = [];
  const refusals: [ValidInput, InvalidInput][] = [];
  for (const item of toInsert) {
    const reason = storeRefusal(item.event, bounds);
    if (reason === undefined) storing.push(item);
    else {
      const refusal = {
        received: item.received,
        reasons: [reason],
        source: clean(item.event.source),
        eventId: clean(item.event.id),
        contentHash: item.contentHash,
      };
      refusals.push([item, refusal]);
    }
  }
  const unprobed = probedAll ? [] : refusals.filter(([i]) => !bounds.known.has(i.event.subject)).map(([i]) => i.event);
  const stored = await storedHashes(client, unprobed);
  const refused = refusals.map(([item, refusal]): [ValidInput, InvalidInput | 'duplicate'] => {
    const earlier = stored.get(eventKey(item.event));
    if (earlier === undefined) return [item, refusal];
    return [item, verdict(earlier, item) === 'duplicate' ? 'duplicate' : reused(item)];
  });
  return { storing, refused };
}

/**
 * One subject's usage is derived by one transaction at a time: a batch on
 * another partition (a re-send may land anywhere) that touches the same
 * subject waits here, then sees this one's events. Held until commit. The
 * usage horizon's lock is taken first, shared: the archive moves the horizon
 * under it exclusively, so a batch judged against the old one commits first.
 */
export async function lockSubjects(client: pg.PoolClient, subjects: string[]): Promise<void> {
  const unique = [...new Set(subjects)].sort(compare);
  if (unique.length === 0) return;
  await client.query({
    name: 'metering.lock-subjects',
    // unnest yields in array order, so the locks are taken in sorted order.
    text: `select pg_advisory_xact_lock_shared($2) union all select pg_advisory_xact_lock(hashtextextended(s, 7001)) from unnest($1::text[]) s`,
    values: [arrayLiteral(unique), HORIZON_LOCK],
  });
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sorted by event key, each key built once (not twice per comparison). */
function byKey(items: ValidInput[]): ValidInput[] {
  return items
    .map((i) => [eventKey(i.event), i] as const)
    .sort(([a], [b]) => compare(a, b))
    .map(([, i]) => i);
}

/**
 * Held from a batch's first rejection to its commit: rejection ids (a
 * sequence) then commit in id order, so `GET /v1/rejected`, paging by id,
 * never passes an id a batch still holds uncommitted. Batches keeping
 * rejections are rare; only they wait on one another, and a re-submit's
 * resolve (markResolved, store.ts), which so never passes a batch refusing
 * its event as a duplicate of the row it resolves.
 */
export const REJECTIONS_LOCK = 7_021_001;

/**
 * Stores rejections whole; returns those not already kept (by their bytes).
 * The store refusing an event that a re-submit, as it was, resolved (resolved
 * by its own key, which was never stored) reopens it: its row is replaced, so
 * it is pending again under a new id, after any a walker already passed. The
 * store refusing bytes still pending (kept first for another reason, e.g. a
 * time then in the future, and re-submitted as they were) is a duplicate, but
 * the row's reasons become the store's: what a re-submit answers (resubmit.ts).
 */
async function keepRejections(client: pg.PoolClient, rejecting: InvalidInput[]): Promise<InvalidInput[]> {
  if (rejecting.length === 0) return [];
  const byHash = new Map<string, InvalidInput>();
  for (const r of rejecting) {
    const hash = rawHash(r.received.bytes);
    if (!byHash.has(hash)) byHash.set(hash, r);
  }
  const ordered = [...byHash].sort(([a], [b]) => compare(a, b));
  await client.query({ name: 'metering.lock-rejections', text: 'select pg_advisory_xact_lock($1)', values: [REJECTIONS_LOCK] });
  const refusedByStore = ordered.filter(([, r]) => r.reasons.some((x) => x.code === 'store_refused'));
  if (refusedByStore.length > 0) {
    // Never once its key is stored (the original bytes re-sent after their fix was applied stay a
    // duplicate), nor while a fix of other content is claimed and on its way (not refused).
    await client.query(
      `with refused as (select * from jsonb_to_recordset($1::jsonb) as x(raw_hash text, reasons jsonb, content_hash text)),
            reopened as (
              delete from metering.rejected_events r
               using refused x
               where r.raw_hash = x.raw_hash and r.resolved_at is not null
                 and r.resolved_by = r.source || '/' || r.event_id
                 and not exists (select from metering.event_keys k where k.source = r.source collate "C" and k.id = r.event_id collate "C")
                 and not exists (select from metering.intake_claims c
                                  where c.source = r.source collate "C" and c.id = r.event_id collate "C" and not c.refused
                                    and c.content_hash is distinct from x.content_hash)
            )
       update metering.rejected_events r set reasons = x.reasons
         from refused x
        where r.raw_hash = x.raw_hash and r.resolved_at is null and r.reasons is distinct from x.reasons`,
      [
        JSON.stringify(
          refusedByStore.map(([hash, r]) => ({ raw_hash: hash, reasons: keptReasons(r), content_hash: r.contentHash ?? null })),
        ),
      ],
    );
  }
  const { rows } = await client.query<{ raw_hash: string }>(
    `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id, bus_position)
     select x.raw, decode(x.raw_base64, 'base64'), x.raw_hash, x.reasons, x.source, x.event_id, x.bus_position
       from jsonb_to_recordset($1::jsonb) as x(raw text, raw_base64 text, raw_hash text, reasons jsonb,
            source text, event_id text, bus_position text)
     on conflict (raw_hash) do nothing
     returning raw_hash`,
    [
      JSON.stringify(
        ordered.map(([hash, r]) => ({
          raw: readable(r.received.bytes),
          raw_base64: r.received.bytes.toString('base64'),
          raw_hash: hash,
          reasons: keptReasons(r),
          source: r.source,
          event_id: r.eventId,
          bus_position: r.received.position,
        })),
      ),
    ],
  );
  // In the order they came, the first of equal bytes standing for them all.
  const kept = new Set(rows.map((row) => row.raw_hash));
  return [...byHash].filter(([hash]) => kept.has(hash)).map(([, r]) => r);
}

/** A rejection's reasons as kept: text PostgreSQL holds. */
function keptReasons(r: InvalidInput): InvalidInput['reasons'] {
  return r.reasons.map((x) => ({ ...x, field: clean(x.field), message: clean(x.message) }));
}

export function rawHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Text for reading; PostgreSQL text holds no NUL. The exact bytes are kept beside it. */
function readable(bytes: Buffer): string {
  return clean(bytes.toString('utf8'));
}

function reused(item: ValidInput): InvalidInput {
  return { received: item.received, reasons: [ID_REUSED_REASON], source: clean(item.event.source), eventId: clean(item.event.id) };
}
