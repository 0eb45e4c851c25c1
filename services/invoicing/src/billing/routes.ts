import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { HoldList, Invoice, PeriodQuery, RequiredPeriodQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import type { InvoicingDeps } from '../deps.ts';
import { canSeeAccount } from '../access/tokens.ts';
import { invoiceListJson } from './invoice-list.ts';
import { InvoiceListQuery } from './invoice-list-query.ts';

const AccountParams = z.object({ account_id: z.string().min(1).max(128) });
const InvoiceParams = z.object({ id: z.string().min(1).max(128) });

/** A bad query names its field: `period: must be a month as YYYY-MM`, `period: required`. */
const badRequest = (reply: FastifyReply, error: z.ZodError) => reply.code(400).send(queryError(error));

// Another account's resources answer 404, as unknown ones do: a token never
// learns which accounts or invoices exist beyond its own.
const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not found' });

/** The streamed list's route, as its log lines name it (the pattern, as http.request does). */
const LIST_ROUTE = '/v1/accounts/:account_id/invoices';

/** The JSON API of api.md: drafts, invoices and holds. */
export function apiRoutes(app: FastifyInstance, { billing, pool, log }: InvoicingDeps): void {
  app.get('/v1/accounts/:account_id/usage', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    const query = parseQuery(PeriodQuery, req.query);
    if (!params.success) return notFound(reply);
    if (!query.success) return badRequest(reply, query.error);
    if (!canSeeAccount(req.principal, params.data.account_id)) return notFound(reply);
    return Invoice.parse(await billing.draft(params.data.account_id, query.data.period));
  });

  app.get(LIST_ROUTE, async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    if (!params.success || !canSeeAccount(req.principal, params.data.account_id)) return notFound(reply);
    const query = parseQuery(InvoiceListQuery, req.query);
    if (!query.success) return badRequest(reply, query.error);
    // Every invoice with every line (api.md), streamed a page at a time (invoice-list.ts): memory
    // holds one page of lines however long the history. The first page is read here, before any
    // byte: a statement failing there is answered as any route's error (503 at the statement limit).
    const accountId = params.data.account_id;
    const json = Readable.from(await invoiceListJson(pool, accountId, query.data), { objectMode: false, highWaterMark: 64 * 1024 });
    json.once('error', (err: Error & { code?: unknown }) => {
      // Before the first byte fastify answers it through the error handler, which logs it.
      if (!reply.raw.headersSent) return;
      // After it the status is sent: say so, and cut the connection, so the client never reads a
      // finished chunked body (and a JSON that parses) missing invoices. Fastify logs nothing here.
      log.error('http.stream_failed', err, {
        path: LIST_ROUTE,
        account_id: accountId,
        ...(typeof err.code === 'string' ? { code: err.code } : {}),
        'count#http.stream_failed': 1,
      });
      reply.raw.destroy();
    });
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.get('/v1/invoices/:id', async (req, reply) => {
    const params = InvoiceParams.safeParse(req.params);
    const invoice = params.success ? await billing.invoice(params.data.id) : undefined;
    if (!invoice || !canSeeAccount(req.principal, invoice.account_id)) return notFound(reply);
    return Invoice.parse(invoice);
  });

  app.get('/v1/holds', async (req, reply) => {
    const query = parseQuery(RequiredPeriodQuery, req.query);
    if (!query.success) return badRequest(reply, query.error);
    // An account's customer sees only their own account's holds: only those are computed.
    const principal = req.principal;
    const accountId = principal?.kind === 'account' ? principal.accountId : undefined;
    return HoldList.parse(await billing.holds(query.data.period, accountId));
  });
}
