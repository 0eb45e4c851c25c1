import type { FastifyReply, FastifyRequest } from 'fastify';
import { isBinaryMode } from '../domain/cloudevents-binary.ts';

/** Why a request's head alone means its body cannot be read as sent (nothing of it is published). */
export interface HeadRefusal {
  status: 400 | 501;
  error: string;
}

/**
 * `POST /v1/events`'s head, judged before its body is read, from every header line as
 * received (Node's `headersDistinct`: `req.headers` keeps the first of a few names, such as
 * Content-Type, and joins any other repeated one with ", ", so `ce-id: x-1` sent twice read
 * as the id "x-1, x-1", another dedupe key than x-1's).
 */
export function headRefusal(lines: Readonly<Record<string, readonly string[] | undefined>>): HeadRefusal | undefined {
  // RFC 9112 6.1: a transfer coding the server does not understand is a 501. Node undoes
  // only `chunked`: the body under `gzip, chunked` used to be published as junk lines.
  const codings = (lines['transfer-encoding'] ?? [])
    .flatMap((v) => v.split(','))
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'chunked');
  if (codings.length > 0) {
    return {
      status: 501,
      error: `Transfer-Encoding ${codings.join(', ')} is not one this route reads: send the body uncompressed, chunked or with a Content-Length`,
    };
  }
  // One Content-Type chooses the mode and the data's type (RFC 9110 5.3: it is not a list);
  // Node keeps the first of two, a proxy may keep the last: two readings of one request.
  const types = lines['content-type'] ?? [];
  if (types.length > 1) return repeated('content-type', types.length, 'a request has one, which chooses how its body is read');
  const first = Object.fromEntries(Object.entries(lines).map(([name, values]) => [name, values?.[0]]));
  // A CloudEvents attribute is exactly one header; outside binary mode `ce-` headers are not read.
  if (!isBinaryMode(first, 'ce-')) return undefined;
  for (const [name, values] of Object.entries(lines)) {
    if (name.startsWith('ce-') && values !== undefined && values.length > 1) {
      return repeated(name, values.length, 'a CloudEvents attribute is one header, sent once');
    }
  }
  return undefined;
}

function repeated(name: string, times: number, why: string): HeadRefusal {
  return { status: 400, error: `header ${name} is sent ${times} times: ${why}` };
}

/** A header value as it came, bytes outside printable ASCII as `\xNN` (Node reads them as latin1). */
export function shownAsReceived(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

/**
 * The `onRequest` of the routes that read events (`POST /v1/events`, a re-submit): the head
 * is judged before the body is read, and what it alone makes unreadable is refused whole.
 */
export async function judgeHead(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const refusal = headRefusal(req.raw.headersDistinct ?? distinct(req.raw.headers));
  if (refusal) return reply.code(refusal.status).send({ error: refusal.error });
  // An empty Content-Type (or only spaces) says no more than none, which is read as JSON or NDJSON.
  if (req.raw.headers['content-type']?.trim() === '') delete req.raw.headers['content-type'];
  return undefined;
}

/** Header lines by name, for a request without `headersDistinct` (an injected one). */
function distinct(headers: Record<string, string | string[] | undefined>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v : [v]]])));
}
