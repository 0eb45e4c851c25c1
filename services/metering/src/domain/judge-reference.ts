// The judge as first written, kept as the definition the hot path is held to
// (judge-equivalence.test.ts, content-hash-equivalence.test.ts) and measured
// against (`npm run bench:judge`): zod's runtime parser, a walk for U+0000 and half a surrogate pair,
// then sorted-key JSON through JSON.stringify. The app itself never calls it.
import { hash } from 'node:crypto';
import { parseEventUncompiled, type BillingEvent } from '@vault/contracts';
import { DateTime } from 'luxon';
import { receiverClock, refused, storeRefused, type Judged, type Received, unstorableField } from './judge.ts';
import { readEvent } from './read-event.ts';

/** What `judge` answers, the straightforward way. */
export function judgeUncompiled(messages: Received[], nowMs: number): Judged {
  const judged: Judged = { valid: [], invalid: [] };
  for (const received of messages) {
    if (received.unreadable !== undefined) {
      judged.invalid.push(refused(received, received.unreadable));
      continue;
    }
    const parsed = readEvent(received.bytes, receiverClock(received.receivedAtMs, nowMs), parseEventUncompiled);
    const unstorable = parsed.ok ? unstorableField(parsed.event) : undefined;
    if (parsed.ok && unstorable !== undefined) judged.invalid.push(storeRefused(received, parsed.event, unstorable));
    else if (parsed.ok)
      judged.valid.push({
        event: parsed.event,
        contentHash: referenceContentHash(referenceInstantEvent(parsed.event)),
        dataJson: stableJson(parsed.event.data),
        received,
      });
    else judged.invalid.push(refused(received, parsed.reasons));
  }
  return judged;
}

/** The content hash as first written: every stored hash was made by it. */
export function referenceContentHash(value: unknown): string {
  return hash('sha256', stableJson(value), 'hex');
}

/** The event with `time` as its instant's one text (instant-time.ts), the straightforward way: through luxon. */
export function referenceInstantEvent(event: BillingEvent): BillingEvent {
  return { ...event, time: referenceInstantTime(event.time) };
}

/** UTC, `Z`, the fraction as sent without trailing zeros but at least milliseconds. */
export function referenceInstantTime(time: string): string {
  const at = time.search(/(?:[Zz]|[+-]\d\d:\d\d)$/);
  const [whole, digits = ''] = time.slice(0, at).split('.') as [string, string?];
  const seconds = DateTime.fromISO(`${whole}${time.slice(at)}`, { setZone: true })
    .toUTC()
    .toISO()!;
  let fraction = digits;
  while (fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  while (fraction.length < 3) fraction += '0';
  return `${seconds.slice(0, -5)}.${fraction}Z`;
}

/** JSON with object keys sorted by UTF-16 code units and undefined members left out. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  let out = '';
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${stableJson(member)}`;
  }
  return `{${out}}`;
}
