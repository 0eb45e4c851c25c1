// The PaymentMethod routes: create (a number with the publishable key, as
// Stripe.js sends it; a test token with either key), retrieve, attach/detach, list.
// A secret key cannot send a card number: Stripe refuses raw card data to servers.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { callerOf } from '../api/auth.ts';
import { cardError, invalidRequest, noSuch, rawCardDataRefused } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { expand, formInt, id, listParams, metadata, parseParams, RetrieveParams, text } from '../api/params.ts';
import { cardDigits, detailError, DETAIL_ERRORS, fullYear, setupFailure } from '../domain/test-cards.ts';
import { testTokenNumber } from '../domain/test-payment-methods.ts';
import type { Tx } from '../store/transaction.ts';
import { liveCustomer } from './customers.ts';
import {
  attachToCustomer,
  cardById,
  insertCard,
  insertTestCard,
  paymentMethods,
  renderPaymentMethod,
  type BillingDetails,
  type PaymentMethodRow,
} from './payment-methods.ts';

const Address = z.object({ city: text, country: text, line1: text, line2: text, postal_code: text, state: text }).partial().strict();

const BillingDetailsParams = z
  .object({ address: Address.optional(), email: text.optional(), name: text.optional(), phone: text.optional() })
  .strict();

const CreatePaymentMethod = z
  .object({
    type: z.literal('card', { message: 'only card is supported' }),
    // A number (the publishable key only, as Stripe.js sends it) or a test token (`tok_visa`).
    card: z
      .object({
        number: z.string().max(40).optional(),
        exp_month: formInt.optional(),
        exp_year: formInt.optional(),
        cvc: z.string().max(10).optional(),
        token: z.string().max(255).optional(),
      })
      .strict(),
    billing_details: BillingDetailsParams.optional(),
    metadata: metadata.optional(),
    expand,
    // Sent by Stripe.js; accepted and ignored.
    payment_user_agent: z.string().optional(),
    time_on_page: z.string().optional(),
    guid: z.string().optional(),
    muid: z.string().optional(),
    sid: z.string().optional(),
    referrer: z.string().optional(),
  })
  .strict();

const Attach = z.object({ customer: id, expand }).strict();
const Detach = z.object({ expand }).strict();
const ListPaymentMethods = z.object({ ...listParams, customer: id.optional(), type: z.literal('card').optional() }).strict();
const ListCustomerPaymentMethods = z.object({ ...listParams, type: z.literal('card').optional() }).strict();

function billingDetails(p: z.infer<typeof BillingDetailsParams> | undefined): BillingDetails {
  const a = p?.address ?? {};
  return {
    address: {
      city: a.city ?? null,
      country: a.country ?? null,
      line1: a.line1 ?? null,
      line2: a.line2 ?? null,
      postal_code: a.postal_code ?? null,
      state: a.state ?? null,
    },
    email: p?.email ?? null,
    name: p?.name ?? null,
    phone: p?.phone ?? null,
  };
}

type CardParams = z.infer<typeof CreatePaymentMethod>['card'];

/** What `card` holds, checked before the request's transaction: a test token's number, or the typed details. */
function cardParams(req: FastifyRequest, card: CardParams): { token: string } | { number: string; exp_month: number; exp_year: number } {
  if (card.token !== undefined) {
    const extra = (['number', 'exp_month', 'exp_year', 'cvc'] as const).find((k) => card[k] !== undefined);
    if (extra) throw invalidRequest(`You cannot provide both card[token] and card[${extra}].`, { param: `card[${extra}]` });
    return { token: card.token };
  }
  for (const k of ['number', 'exp_month', 'exp_year'] as const) {
    if (card[k] === undefined)
      throw invalidRequest(`Missing required param: card[${k}].`, { code: 'parameter_missing', param: `card[${k}]` });
  }
  if (callerOf(req).kind !== 'publishable') throw rawCardDataRefused();
  return { number: card.number!, exp_month: card.exp_month!, exp_year: card.exp_year! };
}

async function createPaymentMethod(tx: Tx, deps: SandboxDeps, p: z.infer<typeof CreatePaymentMethod>, card: ReturnType<typeof cardParams>) {
  let row: PaymentMethodRow;
  if ('token' in card) {
    const digits = testTokenNumber(card.token);
    if (digits === undefined) throw noSuch('token', card.token, 'card[token]');
    row = await insertTestCard(tx, deps, digits, { billing_details: billingDetails(p.billing_details), metadata: p.metadata });
  } else {
    const now = new Date();
    const problem = detailError({ ...card, cvc: p.card.cvc }, { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 });
    if (problem) throw cardError(DETAIL_ERRORS[problem]);
    const digits = cardDigits(card.number)!;
    const details = { digits, exp_month: card.exp_month, exp_year: fullYear(card.exp_year), cvcGiven: p.card.cvc !== undefined };
    row = await insertCard(tx, deps, details, { billing_details: billingDetails(p.billing_details), metadata: p.metadata });
  }
  const pm = renderPaymentMethod(row);
  deps.log.info('gateway.payment_method_created', { payment_method: pm.id, brand: pm.card.brand });
  return pm;
}

async function attach(tx: Tx, deps: SandboxDeps, pmId: string, p: z.infer<typeof Attach>) {
  const pm = await cardById(tx, deps, pmId, 'id', true);
  await liveCustomer(tx.q, p.customer, 'customer');
  if (pm.customer === p.customer) return renderPaymentMethod(pm);
  if (pm.customer !== null) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', { param: 'customer' });
  }
  // Detached, or used once unattached: Stripe will not attach it again.
  if (pm.consumed) {
    throw invalidRequest(
      'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.',
    );
  }
  const failure = setupFailure(pm.behaviour);
  if (failure) throw cardError(failure);
  return attachToCustomer(tx, pm, p.customer);
}

async function detach(tx: Tx, pmId: string) {
  const pm = await paymentMethods.require(tx.q, pmId, 'id', true);
  if (pm.customer === null) {
    throw invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.');
  }
  await tx.q.query('update gateway_sandbox.customers set default_payment_method = null where id = $1 and default_payment_method = $2', [
    pm.customer,
    pm.id,
  ]);
  // Detached for good: Stripe refuses it for any later payment, setup or attach.
  const detached = renderPaymentMethod(await paymentMethods.update(tx.q, pm.id, { customer: null, consumed: true }));
  await tx.emit('payment_method.detached', detached, { customer: pm.customer });
  return detached;
}

export function paymentMethodRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/payment_methods', { config: { publishable: true } }, async (req, reply) => {
    const p = parseParams(CreatePaymentMethod, req.body);
    const toExpand = expansion('payment_method', p.expand);
    const card = cardParams(req, p.card);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createPaymentMethod(tx, deps, p, card), toExpand));
  });

  http.get<{ Params: { id: string } }>('/v1/payment_methods/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    const toExpand = expansion('payment_method', p.expand);
    return expandObject(deps.pool, renderPaymentMethod(await paymentMethods.require(deps.pool, req.params.id)), toExpand);
  });

  http.post<{ Params: { id: string } }>('/v1/payment_methods/:id/attach', async (req, reply) => {
    const p = parseParams(Attach, req.body);
    const toExpand = expansion('payment_method', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await attach(tx, deps, req.params.id, p), toExpand));
  });

  http.post<{ Params: { id: string } }>('/v1/payment_methods/:id/detach', async (req, reply) => {
    const p = parseParams(Detach, req.body);
    const toExpand = expansion('payment_method', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await detach(tx, req.params.id), toExpand));
  });

  http.get('/v1/payment_methods', async (req) => {
    const p = parseParams(ListPaymentMethods, req.query);
    const toExpand = listExpansion('payment_method', p.expand);
    const page = await listPage<PaymentMethodRow>(
      deps.pool,
      {
        table: 'payment_methods',
        kind: 'PaymentMethod',
        ...equalTo({ customer: p.customer }),
        url: '/v1/payment_methods',
        render: renderPaymentMethod,
      },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });

  http.get<{ Params: { id: string } }>('/v1/customers/:id/payment_methods', async (req) => {
    const p = parseParams(ListCustomerPaymentMethods, req.query);
    const toExpand = listExpansion('payment_method', p.expand);
    await liveCustomer(deps.pool, req.params.id);
    const url = `/v1/customers/${req.params.id}/payment_methods`;
    const page = await listPage<PaymentMethodRow>(
      deps.pool,
      { table: 'payment_methods', kind: 'PaymentMethod', ...equalTo({ customer: req.params.id }), url, render: renderPaymentMethod },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });
}
