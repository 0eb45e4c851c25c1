// The card form script's two calls around the browser's confirmation (both
// behind the CSRF check in web/context.ts): start a setup, then finish it.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { finishCardSetup, startCardSetup } from './service.ts';
import { cardExpiry, cardSummary } from '../domain/card.ts';
import { CARD_MESSAGES } from '../domain/messages.ts';
import type { WebContext } from '../web/context.ts';

const FinishBody = z.object({
  setup_intent: z.string().regex(/^seti_[A-Za-z0-9]{1,64}$/, 'must be a setup intent id (seti_…)'),
});

export function cardApiRoutes(web: FastifyInstance, ctx: WebContext): void {
  const { deps } = ctx;
  const bodyLimit = 1024;

  web.post('/card/setup-intents', { bodyLimit }, async (req, reply) => {
    const who = await ctx.session.current(req);
    if (!who) return ctx.jsonError(reply, 401, 'session_ended', CARD_MESSAGES.session_ended!);
    const started = await startCardSetup(deps, who.accountId);
    if (started.kind === 'rate_limited') {
      reply.header('retry-after', String(started.retryAfterSeconds));
      return ctx.jsonError(reply, 429, 'rate_limited', started.message);
    }
    return reply.code(201).send({ client_secret: started.clientSecret });
  });

  web.post('/card', { bodyLimit }, async (req, reply) => {
    const who = await ctx.session.current(req);
    if (!who) return ctx.jsonError(reply, 401, 'session_ended', CARD_MESSAGES.session_ended!);
    const body = FinishBody.safeParse(req.body);
    if (!body.success) {
      const why = body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return ctx.jsonError(reply, 400, 'invalid_request', why);
    }
    const finished = await finishCardSetup(deps, who.accountId, body.data.setup_intent);
    if (finished.kind === 'rate_limited') {
      reply.header('retry-after', String(finished.retryAfterSeconds));
      return ctx.jsonError(reply, 429, 'rate_limited', finished.message);
    }
    // A card reported stolen has its own code (card_blocked); the other refusals are setup_refused.
    if (finished.kind === 'refused') {
      return ctx.jsonError(reply, finished.status, 'code' in finished ? finished.code : 'setup_refused', finished.message);
    }
    const { card } = finished;
    return reply.send({
      card: {
        brand: card.brand,
        last4: card.last4,
        exp_month: card.expMonth,
        exp_year: card.expYear,
        summary: cardSummary(card),
        expires: cardExpiry(card),
      },
    });
  });
}
