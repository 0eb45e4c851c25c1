import { hash } from 'node:crypto';
import type { BillingEvent } from '@vault/contracts';
import { canonicalJson, eventCanonicalBytes } from './canonical-json.ts';

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
 * half a surrogate pair.
 */
export function eventContent(event: BillingEvent): { hash: string; dataJson: string } | undefined {
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
 * hash that differs may be this event's legacy one (legacyContentHash): only
 * then is that one computed, so no other verdict pays for it.
 */
export function verdict(
  earlierHash: string | undefined,
  item: { event: BillingEvent; contentHash: string },
): 'new' | 'duplicate' | 'reused' {
  if (earlierHash === undefined) return 'new';
  return earlierHash === item.contentHash || earlierHash === legacyContentHash(item.event) ? 'duplicate' : 'reused';
}

/**
 * The hash an event was stored with when it came with `datacontenttype`
 * (then only ever "application/json"), before a JSON `datacontenttype` was
 * left out of the content (read-event.ts): stored hashes never change, so such
 * an event is still a duplicate of its copies, whichever mode they come in.
 */
export function legacyContentHash(event: BillingEvent): string | undefined {
  return eventContentHash({ ...event, datacontenttype: 'application/json' });
}
