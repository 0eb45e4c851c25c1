import { hash } from 'node:crypto';
import type { BillingEvent } from '@vault/contracts';
import { canonicalJson, eventCanonicalBytes } from './canonical-json.ts';
import { instantText } from './instant-time.ts';

/**
 * A hash of an event's content that ignores key order, so the same event
 * re-sent by another serializer is still "identical content". Stored hashes
 * are compared with new ones, so the text hashed must never change: JSON with
 * object keys sorted by UTF-16 code units and undefined members left out
 * (canonical-json.ts; content-hash-equivalence.test.ts holds it to the
 * first implementation, judge-reference.ts).
 */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * The content hash of a parsed event, in the same pass that looks for U+0000
 * and half a surrogate pair (which the store cannot hold, storable-text.ts):
 * undefined when a string of it holds one.
 * The judge's own path (eventContent), so the tests that hold it to the
 * reference hold what production runs; the judge itself calls eventContent.
 */
export function eventContentHash(event: BillingEvent): string | undefined {
  return eventContent(event)?.hash;
}

/**
 * eventContentHash, and the canonical JSON of the event's `data` (what the
 * store keeps), from the same pass: undefined when a string holds U+0000 or
 * half a surrogate pair. `time` is hashed as its instant (instant-time.ts), so
 * one event is one content whichever way its time is written.
 */
export function eventContent(event: BillingEvent): { hash: string; dataJson: string } | undefined {
  return asSentContent(withInstantTime(event));
}

/** The event with `time` as its instant's one text: itself (no copy) when it is written so already. */
export function withInstantTime(event: BillingEvent): BillingEvent {
  if (typeof event.time !== 'string') return event;
  const time = instantText(event.time);
  return time === event.time ? event : { ...event, time };
}

/** The content of the event exactly as given, `time` as written: how every hash was made before instants. */
function asSentContent(event: BillingEvent): { hash: string; dataJson: string } | undefined {
  const canonical = eventCanonicalBytes(event);
  return canonical === undefined ? undefined : { hash: sha256Hex(canonical.bytes), dataJson: canonical.data };
}

// One-shot `hash` skips the Hash object that createHash builds per call.
function sha256Hex(input: string | Buffer): string {
  return hash('sha256', input, 'hex');
}

/**
 * An event against the first one known with its `(source, id)`: the stored
 * event when there is one (it defines the content), else an earlier one of the
 * same batch or request. Never dependent on where batches begin and end. A
 * hash that differs may be one this event was stored with before (asSentHash,
 * legacyContentHash): only then are those computed, so no other verdict pays for them.
 */
export function verdict(
  earlierHash: string | undefined,
  item: { event: BillingEvent; contentHash: string },
): 'new' | 'duplicate' | 'reused' {
  if (earlierHash === undefined) return 'new';
  if (earlierHash === item.contentHash) return 'duplicate';
  return earlierHash === asSentHash(item.event) || earlierHash === legacyContentHash(item.event) ? 'duplicate' : 'reused';
}

/**
 * The hash an event was stored with before `time` was hashed as its instant:
 * `time` as written, in upper case (a lower-case `t` or `z` was refused then, so
 * every hash of then was made from `T`/`Z`, and a lower-case copy is the same
 * event). Stored hashes never change, so an event stored then is still a
 * duplicate of a copy sent as it was. Undefined when that is the content hash
 * itself (its time already in the instant's form).
 */
export function asSentHash(event: BillingEvent): string | undefined {
  if (typeof event.time !== 'string') return undefined;
  const then = withLegacyTime(event);
  if (instantText(event.time) === then.time) return undefined;
  return asSentContent(then)?.hash;
}

/**
 * The hash an event was stored with when it came with `datacontenttype`
 * (then only ever "application/json"), before a JSON `datacontenttype` was
 * left out of the content (read-event.ts), and with `time` as written then
 * (legacyTime: that was before instants too): stored hashes never change, so
 * such an event is still a duplicate of its copies, whichever mode they come in.
 */
export function legacyContentHash(event: BillingEvent): string | undefined {
  return asSentContent({ ...withLegacyTime(event), datacontenttype: 'application/json' })?.hash;
}

/** The event with `time` as a hash of before instants read it (legacyTime): itself (no copy) when that is as written. */
function withLegacyTime(event: BillingEvent): BillingEvent {
  if (typeof event.time !== 'string') return event;
  const time = legacyTime(event.time);
  return time === event.time ? event : { ...event, time };
}

/**
 * `time` as a hash of before instants read it: as written, but with `T` at
 * position 10 and a final `Z`, the only case the contract accepted then.
 * Upper-case input is returned as it is, so those hashes stay byte-identical.
 */
export function legacyTime(time: string): string {
  const n = time.length;
  const t = time.charCodeAt(10) === 0x74; // `t`
  const z = n > 0 && time.charCodeAt(n - 1) === 0x7a; // `z`
  if (!t && !z) return time;
  const upperT = t ? `${time.slice(0, 10)}T${time.slice(11)}` : time;
  return z ? `${upperT.slice(0, -1)}Z` : upperT;
}
