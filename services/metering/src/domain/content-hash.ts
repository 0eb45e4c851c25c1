import { hash } from 'node:crypto';

/**
 * A hash of an event's content that ignores key order, so the same event
 * re-sent by another serializer is still "identical content". Stored hashes
 * are compared with new ones, so the text hashed must never change.
 */
export function contentHash(value: unknown): string {
  // One-shot `hash` skips the Hash object that createHash builds per call.
  return hash('sha256', stableJson(value), 'hex');
}

/** JSON with object keys sorted by UTF-16 code units and undefined members left out. */
function stableJson(value: unknown): string {
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

/**
 * An event against the first one known with its `(source, id)`: the stored
 * event when there is one (it defines the content), else an earlier one of the
 * same batch or request. Never dependent on where batches begin and end.
 */
export function verdict(earlierHash: string | undefined, hash: string): 'new' | 'duplicate' | 'reused' {
  return earlierHash === undefined ? 'new' : earlierHash === hash ? 'duplicate' : 'reused';
}
