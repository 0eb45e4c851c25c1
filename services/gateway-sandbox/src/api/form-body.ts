// Stripe's wire format: bodies `application/x-www-form-urlencoded` with
// bracket notation (`metadata[invoice_id]=…`, `expand[0]=…`), queries the
// same. Both are parsed with qs into nested objects and arrays, then by zod.
import type { FastifyInstance } from 'fastify';
import qs from 'qs';

/** Limits: generous for Stripe's shapes, small enough to refuse abuse. */
const QS_OPTIONS = { depth: 5, arrayLimit: 100, parameterLimit: 1000, allowPrototypes: false } as const;

/** `metadata[0]=…` (brackets as the SDK sends them, or percent-encoded as a browser does). */
const DIGIT_METADATA_KEY = /(?:^|&)metadata(?:\[|%5B)\d+(?:\]|%5D)/i;

export function parseForm(text: string): Record<string, unknown> {
  const parsed = qs.parse(text, QS_OPTIONS) as Record<string, unknown>;
  // Metadata is a hash whose keys may be digits: qs would make `metadata[0]=a`
  // an array (refused), and `metadata[0]=a&metadata[5]=b` one that loses the 5.
  // Stripe keeps them keys; so does this, for metadata only (expand[0]… stay arrays).
  if (DIGIT_METADATA_KEY.test(text)) {
    parsed.metadata = (qs.parse(text, { ...QS_OPTIONS, parseArrays: false }) as Record<string, unknown>).metadata;
  }
  return parsed;
}

/** Installs the form parser and re-parses every query string with bracket notation. */
export function formBodies(http: FastifyInstance): void {
  http.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => {
    try {
      done(null, parseForm(String(body)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  http.addHook('onRequest', async (req) => {
    const at = req.url.indexOf('?');
    req.query = at === -1 ? {} : parseForm(req.url.slice(at + 1));
  });
}
