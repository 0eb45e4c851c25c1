import { isBinaryMode } from '../domain/cloudevents-binary.ts';
import { readBody, type BodyReading } from './read-body.ts';

/** A re-submit's fix (`bytes`), none (re-send the event as kept), or why its body cannot be read. */
export type ResubmitBody = { ok: true; bytes?: Buffer } | Extract<BodyReading, { ok: false }>;

/**
 * The fix a re-submit carries, read as `POST /v1/events` reads a body (read-body.ts: the
 * content type, binary mode's `ce-` headers, `Content-Encoding`, a byte order mark): it
 * used to be taken as raw bytes, so a fix sent gzipped or in binary mode came back as
 * `422 still rejected: not JSON`, naming no header. A body without anything in it, and
 * no `ce-` attributes, re-sends the event as it was kept. One event, or a 400.
 */
export function readResubmitBody(headers: Record<string, string | string[] | undefined>, body: unknown): ResubmitBody {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const first = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const binary = isBinaryMode(
    { 'content-type': first('content-type'), 'ce-specversion': first('ce-specversion'), 'ce-id': first('ce-id') },
    'ce-',
  );
  if (!binary && bytes.toString('utf8').trim() === '') return { ok: true };
  const reading = readBody(headers, bytes);
  if (!reading.ok) return reading;
  if (reading.lines.length !== 1) {
    const held = reading.lines.length === 0 ? 'none' : String(reading.lines.length);
    return {
      ok: false,
      status: 400,
      error: `a re-submit carries one event (or no body, to send the kept one again as it was): this body holds ${held}; send several events to POST /v1/events`,
    };
  }
  return { ok: true, bytes: reading.lines[0]!.bytes };
}
