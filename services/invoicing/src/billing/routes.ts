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

/** The JSON API of api.md: drafts, invoices and holds. */
export function apiRoutes(app: FastifyInstance, { billing, pool }: InvoicingDeps): void {
  app.get('/v1/accounts/:account_id/usage', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    const query = parseQuery(PeriodQuery, req.query);
    if (!params.success) return notFound(reply);
    if (!query.success) return badRequest(reply, query.error);
    if (!canSeeAccount(req.principal, params.data.account_id)) return notFound(reply);
    return Invoice.parse(await billing.draft(params.data.account_id, query.data.period));
  });

  app.get('/v1/accounts/:account_id/invoices', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    if (!params.success || !canSeeAccount(req.principal, params.data.account_id)) return notFound(reply);
    const query = parseQuery(InvoiceListQuery, req.query);
    if (!query.success) return badRequest(reply, query.error);
    // Every invoice with every line (api.md), streamed a page at a time (invoice-list.ts): memory
    // holds one page of lines however long the history. A statement failing before the first byte
    // is answered as any route's error; after it, the connection is cut (the JSON left unfinished).
    const json = Readable.from(invoiceListJson(pool, params.data.account_id, query.data), { objectMode: false, highWaterMark: 64 * 1024 });
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
