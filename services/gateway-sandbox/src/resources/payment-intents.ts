// PaymentIntents: one per payment; confirming charges the card. A
// PaymentIntent succeeds at most once: confirmation locks its row, refuses a
// succeeded or canceled one (payment_intent_unexpected_state), and the charges
// table allows one succeeded charge per intent. A decline is a 402 card error,
// the intent back in requires_payment_method with `last_payment_error`, and a
// failed charge kept.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { cardError, invalidRequest, unexpectedState } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { clientSecret, newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import {
  expand,
  formBool,
  formInt,
  id,
  listParams,
  mergeMetadata,
  metadata,
  newMetadata,
  parseParams,
  RetrieveParams,
  text,
} from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import { chargeFailure } from '../domain/test-cards.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { recordCharge } from './charges.ts';
import { attachToCustomer, checkIntentReferences, confirmingCard, renderPaymentMethod } from './payment-methods.ts';

export type PaymentIntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'succeeded' | 'canceled';

export interface PaymentIntentRow {
  id: string;
  created: string;
  amount: string;
  amount_received: string;
  currency: string;
  customer: string | null;
  payment_method: string | null;
  status: PaymentIntentStatus;
  client_secret: string;
  description: string | null;
  payment_method_types: string[];
  setup_future_usage: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  canceled_at: string | null;
  cancellation_reason: string | null;
  metadata: Record<string, string>;
}

export function renderPaymentIntent(r: PaymentIntentRow) {
  return {
    id: r.id,
    object: 'payment_intent' as const,
    amount: Number(r.amount),
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: Number(r.amount_received),
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: r.canceled_at === null ? null : Number(r.canceled_at),
    cancellation_reason: r.cancellation_reason,
    capture_method: 'automatic',
    client_secret: r.client_secret,
    confirmation_method: 'automatic',
    created: Number(r.created),
    currency: r.currency,
    customer: r.customer,
    description: r.description,
    last_payment_error: r.last_payment_error,
    latest_charge: r.latest_charge,
    livemode: false,
    metadata: r.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: r.payment_method,
    payment_method_configuration_details: null,
    payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: r.payment_method_types,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: r.setup_future_usage,
    shipping: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: r.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export const paymentIntents = rowsById<PaymentIntentRow>('payment_intents', 'payment_intent');

export async function getPaymentIntent(q: Queryable, piId: string) {
  const row = await paymentIntents.find(q, piId);
  return row && renderPaymentIntent(row);
}

/** Stripe's smallest charge per currency, in minor units (others: 1). */
const MINIMUM_AMOUNT: Readonly<Record<string, number>> = {
  usd: 50,
  eur: 50,
  cad: 50,
  aud: 50,
  chf: 50,
  nzd: 50,
  sgd: 50,
  gbp: 30,
  jpy: 50,
};

const offSession = z.union([formBool, z.enum(['one_off', 'recurring']).transform(() => true)]);

const CreatePaymentIntent = z
  .object({
    amount: formInt.pipe(z.number().int().min(1, 'amount must be a positive integer').max(99_999_999, 'amount must be at most 99999999')),
    currency: z
      .string()
      .regex(/^[a-zA-Z]{3}$/, 'must be a three-letter ISO currency code')
      .transform((c) => c.toLowerCase()),
    customer: id.optional(),
    payment_method: id.optional(),
    payment_method_types: z
      .array(z.literal('card', { message: 'only card is supported' }))
      .min(1)
      .optional(),
    off_session: offSession.optional(),
    confirm: formBool.optional(),
    description: text.optional(),
    metadata: metadata.optional(),
    setup_future_usage: z.enum(['on_session', 'off_session']).optional(),
    capture_method: z.literal('automatic', { message: 'only automatic capture is supported' }).optional(),
    return_url: z.string().optional(),
    error_on_requires_action: formBool.optional(),
    automatic_payment_methods: z
      .object({ enabled: formBool, allow_redirects: z.enum(['always', 'never']).optional() })
      .strict()
      .optional(),
    expand,
  })
  .strict();

const ConfirmPaymentIntent = z
  .object({
    payment_method: id.optional(),
    off_session: offSession.optional(),
    return_url: z.string().optional(),
    error_on_requires_action: formBool.optional(),
    expand,
  })
  .strict();

const UpdatePaymentIntent = z.object({ description: text.optional(), metadata: metadata.optional(), expand }).strict();

const CancelPaymentIntent = z
  .object({
    cancellation_reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']).optional(),
    expand,
  })
  .strict();

const ListPaymentIntents = z.object({ ...listParams, customer: id.optional() }).strict();

const CONFIRMABLE = 'requires_confirmation, requires_action, requires_payment_method';

/** Charges the card once; the caller holds the intent's row lock. */
async function confirmPaymentIntent(tx: Tx, pi: PaymentIntentRow, paymentMethodId: string | undefined) {
  if (pi.status === 'succeeded' || pi.status === 'canceled') {
    throw unexpectedState(
      'payment_intent',
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE}.`,
      renderPaymentIntent(pi),
    );
  }
  const pm = await confirmingCard(tx, pi, paymentMethodId, () =>
    unexpectedState(
      'payment_intent',
      "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, specify a payment method attached to the PaymentIntent's customer.",
      renderPaymentIntent(pi),
    ),
  );
  const failure = chargeFailure(pm.behaviour);
  const charge = await recordCharge(tx, {
    amount: pi.amount,
    currency: pi.currency,
    customer: pi.customer,
    paymentIntent: pi.id,
    pm,
    description: pi.description,
    metadata: pi.metadata,
    failure,
  });
  const pmObject = renderPaymentMethod(pm);
  if (failure) {
    const lastError = { ...cardError(failure).body, charge: charge.id, payment_method: pmObject };
    const failed = renderPaymentIntent(
      await paymentIntents.update(tx.q, pi.id, {
        status: 'requires_payment_method',
        payment_method: null,
        last_payment_error: lastError,
        latest_charge: charge.id,
      }),
    );
    await tx.emit('payment_intent.payment_failed', failed);
    throw cardError(failure, { charge: charge.id, payment_intent: failed, payment_method: pmObject });
  }
  if (pi.setup_future_usage !== null && pi.customer !== null && pm.customer === null) await attachToCustomer(tx, pm, pi.customer);
  const succeeded = renderPaymentIntent(
    await paymentIntents.update(tx.q, pi.id, {
      status: 'succeeded',
      amount_received: pi.amount,
      payment_method: pm.id,
      last_payment_error: null,
      latest_charge: charge.id,
    }),
  );
  await tx.emit('payment_intent.succeeded', succeeded);
  return succeeded;
}

async function createPaymentIntent(tx: Tx, p: z.infer<typeof CreatePaymentIntent>) {
  const minimum = MINIMUM_AMOUNT[p.currency] ?? 1;
  if (p.amount < minimum) {
    const shown = p.currency === 'usd' ? `$${(minimum / 100).toFixed(2)} usd` : `${minimum} ${p.currency} (minor units)`;
    throw invalidRequest(`Amount must be at least ${shown}`, { param: 'amount', code: 'amount_too_small' });
  }
  if (p.off_session !== undefined && !p.confirm) {
    throw invalidRequest('You may only specify `off_session` when confirming the PaymentIntent (confirm=true).', { param: 'off_session' });
  }
  await checkIntentReferences(tx.q, p.customer, p.payment_method);
  const piId = newId('pi');
  const { rows } = await tx.q.query<PaymentIntentRow>(
    `insert into gateway_sandbox.payment_intents
       (id, created, amount, currency, customer, payment_method, status, client_secret, description, payment_method_types, setup_future_usage, metadata)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`,
    [
      piId,
      tx.now,
      p.amount,
      p.currency,
      p.customer ?? null,
      p.payment_method ?? null,
      p.payment_method === undefined ? 'requires_payment_method' : 'requires_confirmation',
      clientSecret(piId),
      p.description ?? null,
      JSON.stringify(p.payment_method_types ?? ['card']),
      p.setup_future_usage ?? null,
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  const created = rows[0]!;
  await tx.emit('payment_intent.created', renderPaymentIntent(created));
  return p.confirm ? confirmPaymentIntent(tx, created, undefined) : renderPaymentIntent(created);
}

export function paymentIntentRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/payment_intents', async (req, reply) => {
    const p = parseParams(CreatePaymentIntent, req.body);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await createPaymentIntent(tx, p);
      deps.log.info('gateway.payment_intent', { payment_intent: pi.id, status: pi.status });
      return expandObject(tx.q, pi, p.expand);
    });
  });

  http.get<{ Params: { id: string } }>('/v1/payment_intents/:id', async (req) => {
    const p = parseParams(RetrieveParams.extend({ client_secret: z.string().optional() }), req.query);
    return expandObject(deps.pool, renderPaymentIntent(await paymentIntents.require(deps.pool, req.params.id)), p.expand);
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id', async (req, reply) => {
    const p = parseParams(UpdatePaymentIntent, req.body);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      const updated = await paymentIntents.update(tx.q, pi.id, {
        description: p.description === undefined ? pi.description : p.description,
        metadata: mergeMetadata(pi.metadata, p.metadata),
      });
      return expandObject(tx.q, renderPaymentIntent(updated), p.expand);
    });
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id/confirm', async (req, reply) => {
    const p = parseParams(ConfirmPaymentIntent, req.body);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      try {
        const confirmed = await confirmPaymentIntent(tx, pi, p.payment_method);
        deps.log.info('gateway.payment_intent_confirmed', { payment_intent: pi.id, status: confirmed.status });
        return await expandObject(tx.q, confirmed, p.expand);
      } catch (err) {
        deps.log.info('gateway.payment_intent_confirm_refused', {
          payment_intent: pi.id,
          error: (err as Error).name,
          code: (err as { body?: { code?: string } }).body?.code,
        });
        throw err;
      }
    });
  });

  http.post<{ Params: { id: string } }>('/v1/payment_intents/:id/cancel', async (req, reply) => {
    const p = parseParams(CancelPaymentIntent, req.body);
    return mutate(deps, req, reply, async (tx) => {
      const pi = await paymentIntents.require(tx.q, req.params.id, 'id', true);
      if (pi.status === 'succeeded' || pi.status === 'canceled') {
        throw unexpectedState(
          'payment_intent',
          `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
          renderPaymentIntent(pi),
        );
      }
      const canceled = renderPaymentIntent(
        await paymentIntents.update(tx.q, pi.id, {
          status: 'canceled',
          canceled_at: String(tx.now),
          cancellation_reason: p.cancellation_reason ?? null,
        }),
      );
      await tx.emit('payment_intent.canceled', canceled);
      return expandObject(tx.q, canceled, p.expand);
    });
  });

  http.get('/v1/payment_intents', async (req) => {
    const p = parseParams(ListPaymentIntents, req.query);
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
    return expandList(deps.pool, page, p.expand);
  });
}
