// The browser side of the sandbox: the Stripe.js stand-in (GET /v3/) and the
// hosted card fields' iframe (GET /elements/card with its script and styles).
// None of these takes an API key: they are public files, as js.stripe.com's
// are; the iframe's own calls to /v1/* carry the publishable key.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { cardFrameCsp, cardFramePage } from './card-page.ts';

const file = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');

// Read once at boot: a missing file stops the app at start, not at the first customer.
// One script, as Stripe.js is: the elements, then payments and next actions (3-D Secure).
const STRIPE_JS = `${file('stripe-v3.js')}
${file('stripe-v3-actions.js')}`;
const FRAME_JS = file('card-frame.js');
const FRAME_CSS = file('card-frame.css');

// Only the key. The parent's origin is configuration (CC_FORMS_URL), never a
// parameter: an `origin=` (older Stripe.js stand-ins sent one) is ignored.
const CardFrameQuery = z.object({
  key: z.string().regex(/^pk_[A-Za-z0-9_]{1,200}$/, 'must be a publishable key (pk_…)'),
});

function asset(reply: FastifyReply, type: string, body: string) {
  return reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body);
}

export function elementsRoutes(http: FastifyInstance, opts: { publishableKey: string; cardFormOrigin: string }): void {
  const csp = cardFrameCsp(opts.cardFormOrigin);
  const serveStripeJs = async (_req: unknown, reply: FastifyReply) => asset(reply, 'text/javascript; charset=utf-8', STRIPE_JS);
  http.get('/v3/', serveStripeJs);
  http.get('/v3', serveStripeJs);

  http.get('/elements/card.js', async (_req, reply) => asset(reply, 'text/javascript; charset=utf-8', FRAME_JS));
  http.get('/elements/card.css', async (_req, reply) => asset(reply, 'text/css; charset=utf-8', FRAME_CSS));

  http.get('/elements/card', async (req, reply) => {
    const query = CardFrameQuery.safeParse(req.query);
    reply.header('content-security-policy', csp).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
    if (!query.success) {
      const why = query.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
      return reply.code(400).type('text/plain; charset=utf-8').send(`Cannot show the card fields: ${why}.`);
    }
    // Another key than the sandbox's would fail at the first API call; say so now.
    if (query.data.key !== opts.publishableKey) {
      return reply
        .code(400)
        .type('text/plain; charset=utf-8')
        .send("Cannot show the card fields: key: not this gateway's publishable key.");
    }
    return reply.type('text/html; charset=utf-8').send(cardFramePage({ key: query.data.key, origin: opts.cardFormOrigin }));
  });
}
