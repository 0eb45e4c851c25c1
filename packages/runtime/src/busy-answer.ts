// The answer to a request the database could not serve now (a statement stopped at its limit, no
// session to be had, the session ended by the server): 503 with Retry-After, as JSON to programs
// and as a small page to a browser opening one of the apps' pages.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Seconds the caller is asked to wait before trying again. */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * What the caller may believe of its request: `unchanged` when the statement never ran or was
 * stopped (a limit, no session to be had), `unknown` when the server ended the session while a
 * statement ran, which may have been the `commit`: it may have been saved.
 */
export type BusyOutcome = 'unchanged' | 'unknown';

export const BUSY_MESSAGE = 'the database is busy: try again in a few seconds';
export const BUSY_UNKNOWN_MESSAGE =
  'the connection to the database was lost while answering: it may or may not have been saved: check before trying again';

/**
 * Whether the server ended `err`'s session while its statement ran (57P01 a restart or
 * pg_terminate_backend, 57P02 a crash, or node-postgres's "Connection terminated unexpectedly"):
 * that statement may have been a `commit` that took effect. The other ended sessions never ran the
 * statement (57P03 and the "not queryable" of a session already gone refuse it before it is sent;
 * 57P05 ends an idle session).
 */
export function outcomeUnknown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code === '57P01' || code === '57P02';
  return err instanceof Error && err.message === 'Connection terminated unexpectedly';
}

/** A scope's own JSON shape for the busy answer (cc-forms' card script reads `{error: {code, message}}`). */
export type BusyJson = (outcome: BusyOutcome) => unknown;
const scopeJson = new WeakMap<object, BusyJson>();

/** Answers this request's busy JSON in `shape` (set by a scope's hook before its handler runs). */
export function useBusyJson(req: FastifyRequest, shape: BusyJson): void {
  scopeJson.set(req.raw, shape);
}

/** Nothing in the page may run, be framed or be kept (as the router's own error answers). */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

/** Fixed text: no detail of the error, no part of the request. */
function busyPage(outcome: BusyOutcome): string {
  const said =
    outcome === 'unchanged'
      ? 'The service is busy right now and could not answer. Nothing was changed: please try again in a few seconds.'
      : 'The service lost its connection to the database while answering. What you asked for may or may not have been saved: check before trying again.';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Busy: please try again</title></head>
<body>
<h1>Busy: please try again</h1>
<p>${said}</p>
</body>
</html>
`;
}

export const BUSY_PAGE = busyPage('unchanged');
export const BUSY_UNKNOWN_PAGE = busyPage('unknown');

/** The highest q the Accept header gives `type` by name (wildcards not counted); 0 when unnamed. */
function namedQuality(accept: string, type: string): number {
  let best = 0;
  for (const range of accept.split(',')) {
    const [name, ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (name !== type) continue;
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (Number.isFinite(value) && value > best) best = value;
  }
  return best;
}

/**
 * A request for a page: not an API address (`/v1`, `/v1/…`) nor `/health`, and its Accept names
 * text/html without ranking application/json above it: a browser's navigation or form post. A
 * script's fetch and curl accept any type without naming one: JSON, as before.
 */
export function wantsPage(req: FastifyRequest): boolean {
  // The route the router matched (it decodes the path: `/%761/x` reaches `/v1/x`), else the decoded path.
  const path = req.routeOptions?.url ?? decodedPath(req.url);
  if (path === '/v1' || path.startsWith('/v1/') || path === '/health') return false;
  const accept = req.headers.accept ?? '';
  const html = namedQuality(accept, 'text/html');
  return html > 0 && html >= namedQuality(accept, 'application/json');
}

/** The path of `url`, percent-decoded as the router reads it (left as sent when it does not decode). */
function decodedPath(url: string): string {
  const path = url.split('?', 1)[0]!;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Sends the busy answer: the same status and Retry-After either way, the words true to `outcome`. */
export function sendBusy(req: FastifyRequest, reply: FastifyReply, outcome: BusyOutcome = 'unchanged'): FastifyReply {
  reply.code(503).header('retry-after', String(BUSY_RETRY_AFTER_SECONDS));
  if (!wantsPage(req)) {
    const shape = scopeJson.get(req.raw);
    const body = shape ? shape(outcome) : { error: outcome === 'unchanged' ? BUSY_MESSAGE : BUSY_UNKNOWN_MESSAGE };
    return reply.type('application/json; charset=utf-8').send(body);
  }
  return reply
    .headers(PAGE_HEADERS)
    .type('text/html; charset=utf-8')
    .send(outcome === 'unchanged' ? BUSY_PAGE : BUSY_UNKNOWN_PAGE);
}
