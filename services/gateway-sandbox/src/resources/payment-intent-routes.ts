// The PaymentIntent routes. The secret key does everything; the publishable
// key (Stripe.js in the customer's browser) may read one and confirm it, on-session,
// with its client secret, which is how a customer authenticates a payment.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { callerOf, sameSecret } from '../api/auth.ts';
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest, unexpectedState } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { errorForCaller, forCaller } from '../api/for-caller.ts';
import { clientSecret, newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { mergeMetadata, newMetadata, parseParams, RetrieveParams } from '../api/params.ts';
import {
  CancelPaymentIntent,
  ConfirmPaymentIntent,
  CapturePaymentIntent,
  CreatePaymentIntent,
  ListPaymentIntents,
  UpdatePaymentIntent,
} from './payment-intent-params.ts';
import { captureRefused, checkCreateParams, paymentChanges, requireReturnUrl, savingChanges } from './payment-intent-changes.ts';
import type { Tx } from '../store/transaction.ts';
import { abandonChallenges } from './authentications.ts';
import { intentReferences } from './payment-methods.ts';
import { refuseRemovedTypes } from './payment-method-types.ts';
import { confirmPaymentIntent, paymentIntents, renderPaymentIntent, type PaymentIntentRow } from './payment-intents.ts';

/** An explicit list of types replaces automatic payment methods (Stripe: the two exclude each other). */
const restrictedTo = (types: string[] | undefined): Partial<PaymentIntentRow> =>
  types === undefined ? {} : { payment_method_types: types, automatic_payment_methods: null };

/** Statuses in which the types may still change (confirm refuses the others before they would matter). */
const UNCONFIRMED: ReadonlySet<string> = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

/** The next action's shape: a redirect only when asked with a return_url and not by Stripe.js. */
const redirectTo = (p: { return_url?: string | undefined; use_stripe_sdk?: boolean | undefined }) =>
  p.use_stripe_sdk ? undefined : p.return_url;

/** Creates (and with confirm=true confirms) an intent whose params passed checkCreateParams, which gave `automatic`. */
async function createPaymentIntent(
  tx: Tx,
  deps: SandboxDeps,
  p: z.infer<typeof CreatePaymentIntent>,
  automatic: PaymentIntentRow['automatic_payment_methods'],
) {
  const types = p.allowed_payment_method_types;
  const pm = await intentReferences(tx, deps, p.customer, p.payment_method);
  const piId = newId('pi');
  const { rows } = await tx.q.query<PaymentIntentRow>(
    `insert into gateway_sandbox.payment_intents
       (id, created, amount, currency, customer, payment_method, status, client_secret, description, payment_method_types,
        setup_future_usage, metadata, receipt_email, statement_descriptor_suffix, automatic_payment_methods)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) returning *`,
    [
      piId,
      tx.now,
      p.amount,
      p.currency,
      p.customer ?? null,
      pm?.id ?? null,
      pm === undefined ? 'requires_payment_method' : 'requires_confirmation',
      clientSecret(piId),
      p.description ?? null,
      JSON.stringify(types ?? ['card']),
      p.setup_future_usage ?? null,
      JSON.stringify(newMetadata(p.metadata)),
      p.receipt_email ?? null,
      p.statement_descriptor_suffix ?? null,
      automatic === null ? null : JSON.stringify(automatic),
    ],
  );
  const created = rows[0]!;
  await tx.emit('payment_intent.created', renderPaymentIntent(created));
  if (!p.confirm) return renderPaymentIntent(created);
  return confirmPaymentIntent(tx, deps, created, {
    paymentMethod: undefined,
    offSession: p.off_session === true,
    returnUrl: redirectTo(p),
    errorOnRequiresAction: p.error_on_requires_action === true,
  });
}

/** A publishable key must hold the intent's client secret, and may not act off-session or expand. */
function checkBrowser(
  req: FastifyRequest,
  pi: PaymentIntentRow,
  p: { client_secret?: string | undefined; off_session?: boolean | undefined; expand?: string[] | undefined },
) {
  if (callerOf(req).kind !== 'publishable') return;
  if (p.client_secret === undefined || !sameSecret(p.client_secret, pi.client_secret)) {
    throw invalidRequest('The client_secret provided does not match the client_secret associated with the PaymentIntent.', {
      param: 'client_secret',
    });
  }
  if (p.off_session !== undefined) throw invalidRequest('off_session cannot be used with a publishable key.', { param: 'off_session' });
  if (p.expand?.length) throw invalidRequest('This property cannot be expanded with a publishable key.', { param: 'expand' });
}

export function paymentIntentRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/payment_intents', async (req, reply) => {
    const p = parseParams(CreatePaymentIntent, req.body);
    refuseRemovedTypes(p);
    const automatic = checkCreateParams(p);
    const toExpand = expansion('payment_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await createPaymentIntent(tx, deps, p, automatic);
      deps.log.info('gateway.payment_intent', { payment_intent: pi.id, status: pi.status });
      return expandObject(tx.q, pi, toExpand);
    });
  });

  http.get<{ Params: { id: string } }>('/v1/payment_intents/:id', { config: { publishable: true } }, async (req) => {
    const p = parseParams(RetrieveParams.extend({ client_secret: z.string().optional() }), req.query);
    const toExpand = expansion('payment_intent', p.expand);
    const pi = await paymentIntents.require(deps.pool, req.params.id);
    checkBrowser(req, pi, p);
    return expandObject(deps.pool, forCaller(req, renderPaymentIntent(pi)), toExpand);
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id', async (req, reply) => {
    const p = parseParams(UpdatePaymentIntent, req.body);
    refuseRemovedTypes(p);
    const toExpand = expansion('payment_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      if (p.allowed_payment_method_types !== undefined && !UNCONFIRMED.has(pi.status)) {
        throw unexpectedState(
          'payment_intent',
          `You cannot update allowed_payment_method_types on a PaymentIntent with a status of ${pi.status}.`,
          renderPaymentIntent(pi),
        );
      }
      // A new card is checked against the customer the intent is to have; a new customer against its card.
      const payment = await paymentChanges(tx, deps, pi, p, p.customer ?? pi.customer);
      const updated = await paymentIntents.update(tx.q, pi.id, {
        ...payment,
        ...(await savingChanges(tx, pi, p, payment.payment_method ?? pi.payment_method)),
        ...restrictedTo(p.allowed_payment_method_types),
        description: p.description === undefined ? pi.description : p.description,
        metadata: mergeMetadata(pi.metadata, p.metadata),
        receipt_email: p.receipt_email === undefined ? pi.receipt_email : p.receipt_email,
        statement_descriptor_suffix:
          p.statement_descriptor_suffix === undefined ? pi.statement_descriptor_suffix : p.statement_descriptor_suffix,
      });
      return expandObject(tx.q, renderPaymentIntent(updated), toExpand);
    });
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id/confirm', { config: { publishable: true } }, async (req, reply) => {
    const p = parseParams(ConfirmPaymentIntent, req.body);
    refuseRemovedTypes(p);
    const toExpand = expansion('payment_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      let pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      checkBrowser(req, pi, p);
      if (p.allowed_payment_method_types !== undefined && UNCONFIRMED.has(pi.status)) {
        pi = await paymentIntents.update(tx.q, pi.id, restrictedTo(p.allowed_payment_method_types));
      }
      requireReturnUrl(pi, p);
      if (p.receipt_email !== undefined) pi = await paymentIntents.update(tx.q, pi.id, { receipt_email: p.receipt_email });
      try {
        const confirmed = await confirmPaymentIntent(tx, deps, pi, {
          paymentMethod: p.payment_method,
          offSession: p.off_session === true,
          returnUrl: redirectTo(p),
          errorOnRequiresAction: p.error_on_requires_action === true,
        });
        deps.log.info('gateway.payment_intent_confirmed', { payment_intent: pi.id, status: confirmed.status });
        return await expandObject(tx.q, forCaller(req, confirmed), toExpand);
      } catch (err) {
        deps.log.info('gateway.payment_intent_confirm_refused', {
          payment_intent: pi.id,
          error: (err as Error).name,
          code: (err as { body?: { code?: string } }).body?.code,
        });
        throw errorForCaller(req, err, 'payment_intent');
      }
    });
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id/capture', async (req, reply) => {
    expansion('payment_intent', parseParams(CapturePaymentIntent, req.body).expand);
    return mutate(deps, req, reply, async (tx) => {
      throw captureRefused(await paymentIntents.require(tx.q, req.params.id, 'id', true));
    });
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id/cancel', async (req, reply) => {
    const p = parseParams(CancelPaymentIntent, req.body);
    const toExpand = expansion('payment_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      if (pi.status === 'succeeded' || pi.status === 'canceled') {
        throw unexpectedState(
          'payment_intent',
          `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
          renderPaymentIntent(pi),
        );
      }
      await abandonChallenges(tx, { kind: 'payment_intent', id: pi.id });
      const canceled = renderPaymentIntent(
        await paymentIntents.update(tx.q, pi.id, {
          status: 'canceled',
          next_action: null,
          canceled_at: String(tx.now),
          cancellation_reason: p.cancellation_reason ?? null,
        }),
      );
      await tx.emit('payment_intent.canceled', canceled);
      return expandObject(tx.q, canceled, toExpand);
    });
  });

  http.get('/v1/payment_intents', async (req) => {
    const p = parseParams(ListPaymentIntents, req.query);
    const toExpand = listExpansion('payment_intent', p.expand);
    const page = await listPage<PaymentIntentRow>(
      deps.pool,
      {
        table: 'payment_intents',
        kind: 'payment_intent',
        ...equalTo({ customer: p.customer }),
        url: '/v1/payment_intents',
        render: renderPaymentIntent,
      },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });
}
