// The answer to a request the database could not serve now (a statement stopped at its limit, no
// session to be had, the session ended by the server): 503 with Retry-After, as JSON to programs
// and as a small page to a browser opening one of the apps' pages.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Seconds the caller is asked to wait before trying again. */
export const BUSY_RETRY_AFTER_SECONDS = 5;

export const BUSY_MESSAGE = 'the database is busy: try again in a few seconds';

/** Nothing in the page may run, be framed or be kept (as the router's own error answers). */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

/** Fixed text: no detail of the error, no part of the request. */
export const BUSY_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Busy: please try again</title></head>
<body>
<h1>Busy: please try again</h1>
<p>The service is busy right now and could not answer. Nothing was changed: please try again in a few seconds.</p>
</body>
</html>
`;

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
  const path = req.url.split('?', 1)[0]!;
  if (path === '/v1' || path.startsWith('/v1/') || path === '/health') return false;
  const accept = req.headers.accept ?? '';
  const html = namedQuality(accept, 'text/html');
  return html > 0 && html >= namedQuality(accept, 'application/json');
}

/** Sends the busy answer: the same status and Retry-After either way. */
export function sendBusy(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.code(503).header('retry-after', String(BUSY_RETRY_AFTER_SECONDS));
  if (!wantsPage(req)) return reply.type('application/json; charset=utf-8').send({ error: BUSY_MESSAGE });
  return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(BUSY_PAGE);
}
