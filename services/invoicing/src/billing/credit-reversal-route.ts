// `POST /v1/accounts/:account_id/credits/:credit_id/reverse` (admin only, as
// every route the reach table does not list): takes back part or all of what
// is left of a grant, once (docs/contracts/invoicing.md, Credits: reversals).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CreditGrantId, CreditReversal, CreditReversalRequest } from '@vault/contracts';
import type { Logger } from '@vault/runtime';
import type { Billing } from './types.ts';
import { bodyError, issuesOf } from './credit-body-errors.ts';
import { LedgerBusy, ReversalRefused } from './credit-reversal.ts';
import { EntryInTakenMonthError } from './credits-taken.ts';

const Params = z.object({ account_id: z.string().min(1).max(128), credit_id: CreditGrantId });

/**
 * How long a request waits for a finalize run applying credit to end before it is 503: a run
 * holds the ledger's lock for its whole month, so an HTTP client is told to come back rather
 * than held for minutes.
 */
export const REVERSE_LOCK_WAIT_MS = 10_000;
/** Retry-After of that 503, in seconds. */
const RETRY_AFTER_S = 30;

export function reversalRoute(app: FastifyInstance, billing: Billing, log: Logger): void {
  app.post('/v1/accounts/:account_id/credits/:credit_id/reverse', async (req, reply) => {
    const params = Params.safeParse(req.params);
    if (!params.success) return reply.code(404).send({ error: 'not found' });
    const { account_id: accountId, credit_id: grantId } = params.data;
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      return bodyError(reply, [{ field: 'body', message: 'must be a JSON object { reason, amount? }' }]);
    }
    const body = CreditReversalRequest.safeParse(req.body);
    if (!body.success) return bodyError(reply, issuesOf(body.error));
    const fields = { account_id: accountId, grant_id: grantId, amount: body.data.amount ?? 'what is left' };
    let result;
    try {
      result = await billing.reverseCredit(accountId, grantId, body.data, { lockWaitMs: REVERSE_LOCK_WAIT_MS, log });
    } catch (err) {
      if (err instanceof ReversalRefused) {
        log.warn('credit.reverse_refused', { ...fields, field: err.field, status: err.status });
        const message = err.message.slice(err.field.length + 2);
        return reply.code(err.status).send({ error: `${err.message}; nothing reversed`, fields: [{ field: err.field, message }] });
      }
      if (err instanceof EntryInTakenMonthError) {
        // This replica's clock is behind: dated now, the reversal would change a month's credits.csv already taken.
        log.warn('credit.reverse_refused', { ...fields, reason: 'month_taken', period: err.taken.period, status: 409 });
        return reply.code(409).send({ error: err.message });
      }
      if (err instanceof LedgerBusy) {
        log.warn('credit.reverse_busy', { ...fields, waited_ms: REVERSE_LOCK_WAIT_MS });
        return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ error: err.message });
      }
      throw err;
    }
    const answer = CreditReversal.parse(result.reversal);
    if (result.outcome === 'conflict') {
      log.warn('credit.reverse_conflict', { ...fields, differs: result.differs.join(',') });
      return reply.code(409).send({
        error: `credit ${grantId} was already reversed with another ${result.differs.join(', ')} (${answer.amount} ${answer.currency} taken back); a grant is reversed once; nothing changed`,
        reversal: answer,
      });
    }
    log.info('credit.reversed', {
      ...fields,
      amount: answer.amount,
      outcome: result.outcome,
      ...(result.outcome === 'created' ? { 'count#credits.reversed': 1 } : {}),
    });
    return reply.code(result.outcome === 'created' ? 201 : 200).send(answer);
  });
}
