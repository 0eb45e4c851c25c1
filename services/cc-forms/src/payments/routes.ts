// The authenticate-and-pay page's JSON call (behind the CSRF check in
// web/context.ts): the client secret and card of the account's own PaymentIntent,
// which the page's script hands to the gateway's JS (confirmCardPayment).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PAYMENT_SESSION_ENDED } from '../domain/messages.ts';
import type { WebContext } from '../web/context.ts';
import { accountPayment, paysHere } from './service.ts';

const Params = z.object({ id: z.string().max(80) });

export function paymentApiRoutes(web: FastifyInstance, ctx: WebContext): void {
  const { deps } = ctx;

  web.post('/payments/:id/start', { bodyLimit: 1024 }, async (req, reply) => {
    const who = await ctx.session.current(req);
    if (!who) return ctx.jsonError(reply, 401, 'session_ended', PAYMENT_SESSION_ENDED);
    const params = Params.safeParse(req.params);
    const found = params.success ? await accountPayment(deps, who.accountId, params.data.id) : undefined;
    if (found?.kind === 'rate_limited') {
      reply.header('retry-after', String(found.retryAfterSeconds));
      return ctx.jsonError(reply, 429, 'rate_limited', found.message);
    }
    if (found?.kind !== 'found') return ctx.jsonError(reply, 404, 'not_found', 'There is no such payment for your account.');
    const { payment } = found;
    if (payment.stage === 'paid')
      return ctx.jsonError(reply, 409, 'already_paid', 'This payment has already been made: nothing more to do here.');
    if (!paysHere(payment.stage) || !payment.intent.clientSecret || !payment.paymentMethodId) {
      return ctx.jsonError(reply, 409, 'not_payable', 'This payment cannot be made here now. Please check your invoice.');
    }
    // A declined payment tried again takes no card attempt (those budget card setups): the page
    // confirms it with the card on file, and the secret, the same at each call, confirms with any card
    // straight at the gateway without us. Other cards' declines are invoicing's to count: past
    // CARD_ATTEMPTS_PER_HOUR it cancels the PaymentIntent (charging/card-testing.ts).
    deps.log.info('payment.authentication_started', { account_id: who.accountId, payment_intent_id: payment.intent.id });
    return reply.send({ client_secret: payment.intent.clientSecret, payment_method: payment.paymentMethodId });
  });
}
