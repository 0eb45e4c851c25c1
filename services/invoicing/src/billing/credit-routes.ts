// api.md "Credits": an account's balance, and operators' grants and their
// reversals (admin only: any other token is refused by requireBearer's reach
// table before this runs).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { CreditBalance, CreditGrant, CreditGrantRequest } from '@vault/contracts';
import type { InvoicingDeps } from '../deps.ts';
import { canSeeAccount } from '../access/tokens.ts';
import { bodyError, issuesOf } from './credit-body-errors.ts';
import { reversalRoute } from './credit-reversal-route.ts';
import { GrantRefused, UnknownAccount } from './credits.ts';
import { EntryInTakenMonthError } from './credits-taken.ts';

const AccountParams = z.object({ account_id: z.string().min(1).max(128) });

const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not found' });

export function creditRoutes(app: FastifyInstance, { billing, log }: InvoicingDeps): void {
  app.get('/v1/accounts/:account_id/balance', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    if (!params.success || !canSeeAccount(req.principal, params.data.account_id)) return notFound(reply);
    return CreditBalance.parse(await billing.balance(params.data.account_id));
  });

  app.post('/v1/accounts/:account_id/credits', async (req, reply) => {
    const params = AccountParams.safeParse(req.params);
    if (!params.success) return notFound(reply);
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      return bodyError(reply, [{ field: 'body', message: 'must be a JSON object { id, amount, reason, expires_at?, new_account? }' }]);
    }
    const body = CreditGrantRequest.safeParse(req.body);
    if (!body.success) return bodyError(reply, issuesOf(body.error));
    const accountId = params.data.account_id;
    let result;
    try {
      result = await billing.grantCredit(accountId, body.data);
    } catch (err) {
      if (err instanceof UnknownAccount) {
        // Not a malformed body but one the ledger will not take: a typo would be credit no invoice ever uses.
        log.warn('credit.grant_refused', { account_id: accountId, grant_id: body.data.id, field: 'account', reason: 'unknown_account' });
        const message = `${err.message.slice('account: '.length)}; check the account, or send "new_account": true to grant to an account that has none of these yet`;
        return reply.code(422).send({ error: `account: ${message}; nothing granted`, fields: [{ field: 'account', message }] });
      }
      if (err instanceof EntryInTakenMonthError) {
        // This replica's clock is behind: dated now, the grant would change a month's credits.csv already taken.
        log.warn('credit.grant_refused', {
          account_id: accountId,
          grant_id: body.data.id,
          reason: 'month_taken',
          period: err.taken.period,
        });
        return reply.code(409).send({ error: err.message });
      }
      if (err instanceof GrantRefused) return bodyError(reply, [{ field: err.field, message: err.message.slice(err.field.length + 2) }]);
      throw err;
    }
    const fields = { account_id: accountId, grant_id: body.data.id, amount: body.data.amount, outcome: result.outcome };
    if (result.outcome === 'conflict') {
      log.warn('credit.grant_conflict', { ...fields, differs: result.differs.join(',') });
      return reply.code(409).send({
        error: `credit ${body.data.id} was already granted with another ${result.differs.join(', ')}; nothing changed`,
        grant: CreditGrant.parse(result.grant),
      });
    }
    log.info('credit.granted', { ...fields, ...(result.outcome === 'created' ? { 'count#credits.granted': 1 } : {}) });
    return reply.code(result.outcome === 'created' ? 201 : 200).send(CreditGrant.parse(result.grant));
  });

  reversalRoute(app, billing, log);
}
