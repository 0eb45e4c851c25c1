// What the store refuses of a valid event, beside a reused id: an event of an
// archived subject's past (migrations 011, 012), or one timed before the usage
// horizon (migration 018; docs/contracts/metering.md, "Usage horizon").
// The consumer rejects it; the intake answers it as rejected before it is
// published, so a re-submitted rejection is refused again with a 422.
import { eventTimeMs, type Reason } from '@vault/contracts';
import type { ArchiveBounds } from './stored-hashes.ts';

/**
 * Every batch holds it shared from its subject locks' statement; `vault
 * archive` takes it exclusively to move the horizon, so no batch judged
 * against the old horizon commits after the move.
 */
export const HORIZON_LOCK = 7_018_001;

/** Why the store refuses `event`, or undefined. */
export function storeRefusal(event: { subject: string; sequence: number; time: string }, bounds: ArchiveBounds): Reason | undefined {
  const archived = bounds.subjects.get(event.subject);
  if (archived?.closed) {
    return {
      field: 'subject',
      code: 'store_refused',
      message: `subject ${event.subject} is archived (closed, its events older than EVENT_RETENTION): no event may follow its last`,
    };
  }
  if (archived !== undefined && event.sequence <= archived.lastSequence) {
    return {
      field: 'subject',
      code: 'store_refused',
      message: `subject ${event.subject} has its events up to sequence ${archived.lastSequence} archived (older than EVENT_RETENTION): sequence ${event.sequence} comes too late`,
    };
  }
  if (archived?.frozenBefore && eventTimeMs(event) < archived.frozenBefore.getTime()) {
    // Its usage before its first kept event is settled: an event timed before it (a copy of
    // that event's sequence, or times running backwards) would be derived over it again.
    return {
      field: 'time',
      code: 'store_refused',
      message: `subject ${event.subject} has its usage before ${archived.frozenBefore.toISOString()} archived and settled (older than EVENT_RETENTION): time ${event.time} comes too late`,
    };
  }
  if (bounds.horizon !== null && eventTimeMs(event) < bounds.horizon.getTime()) {
    const month = bounds.horizon.toISOString().slice(0, 7);
    return {
      field: 'time',
      code: 'store_refused',
      // What the operator can do: an event that ends usage still running (a stop that came too
      // late) re-submitted timed at the horizon ends it there, and the months after are credited.
      message: `time ${event.time} is before the usage horizon (${month}): usage before ${bounds.horizon.toISOString()} is final, invoiced and archived; no event may change it (to end usage still running, re-submit it timed at ${bounds.horizon.toISOString()})`,
    };
  }
  return undefined;
}
