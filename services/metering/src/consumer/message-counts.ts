import type pg from 'pg';
import type { InvalidInput, Judged, ValidInput } from '../domain/judge.ts';

/** How messages of one source ended. */
export interface Outcome {
  applied: number;
  duplicate: number;
  rejected: number;
}

/** Per source; NO_SOURCE for messages without a readable one. */
export type Outcomes = Map<string, Outcome>;

/** The key of messages without a readable source (stored as '', shown as null). */
export const NO_SOURCE = '';

export function sourceOf(item: ValidInput | InvalidInput): string {
  return 'event' in item ? item.event.source : (item.source ?? NO_SOURCE);
}

export function tally(outcomes: Outcomes, source: string, outcome: keyof Outcome, n = 1): void {
  const o = outcomes.get(source) ?? { applied: 0, duplicate: 0, rejected: 0 };
  o[outcome] += n;
  outcomes.set(source, o);
}

export function mergeOutcomes(into: Outcomes, from: Outcomes): void {
  for (const [source, o] of from) {
    tally(into, source, 'applied', o.applied);
    tally(into, source, 'duplicate', o.duplicate);
    tally(into, source, 'rejected', o.rejected);
  }
}

/**
 * Messages read, per source, counted from the judge's verdicts before anything
 * is applied: independent of the outcomes, so `read = applied + duplicate +
 * rejected` checks the accounting rather than restating it.
 */
export function readBySource(judged: Judged): Map<string, number> {
  const read = new Map<string, number>();
  for (const item of [...judged.valid, ...judged.invalid]) read.set(sourceOf(item), (read.get(sourceOf(item)) ?? 0) + 1);
  return read;
}

/**
 * Adds a batch's counts to its partition's rows, one per source, in source
 * order. Only the holder of the partition's position row writes these rows,
 * so they never make two partitions wait for each other; the global counters
 * are these rows summed when read (migration 015), the batch's last lock
 * before its position.
 */
export async function addMessageCounts(
  client: pg.PoolClient,
  at: { log: string; topic: string; partition: number },
  read: Map<string, number>,
  outcomes: Outcomes,
): Promise<void> {
  const sources = [...new Set([...read.keys(), ...outcomes.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (sources.length === 0) return;
  const none: Outcome = { applied: 0, duplicate: 0, rejected: 0 };
  await client.query({
    name: 'metering.add-message-counts',
    text: `insert into metering.message_counts as c (log, topic, partition, source, read, applied, duplicate, rejected)
     select $1, $2, $3, x.source, x.read, x.applied, x.duplicate, x.rejected
       from unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) as x(source, read, applied, duplicate, rejected)
     on conflict (log, partition, source) do update
        set read = c.read + excluded.read, applied = c.applied + excluded.applied,
            duplicate = c.duplicate + excluded.duplicate, rejected = c.rejected + excluded.rejected`,
    values: [
      at.log,
      at.topic,
      at.partition,
      sources,
      sources.map((s) => read.get(s) ?? 0),
      sources.map((s) => (outcomes.get(s) ?? none).applied),
      sources.map((s) => (outcomes.get(s) ?? none).duplicate),
      sources.map((s) => (outcomes.get(s) ?? none).rejected),
    ],
  });
}
