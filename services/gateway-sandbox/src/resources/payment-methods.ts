// PaymentMethods (cards): create (secret or publishable key), retrieve,
// attach/detach, list. The number and CVC are read here, turned into brand,
// last4, fingerprint and test behaviour, and dropped: no column, no log line.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { cardError, invalidRequest, type ApiError } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { cardFingerprint } from '../api/fingerprint.ts';
import { newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { expand, formInt, id, listParams, metadata, newMetadata, parseParams, RetrieveParams, text } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import { cardDigits, cardFacts, detailError, DETAIL_ERRORS, fullYear, setupFailure, type CardBehaviour } from '../domain/test-cards.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { customers } from './customers.ts';

export interface PaymentMethodRow {
  id: string;
  created: string;
  customer: string | null;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  funding: string;
  cvc_check: 'pass' | 'fail' | null;
  behaviour: CardBehaviour;
  billing_details: BillingDetails;
  metadata: Record<string, string>;
}

interface BillingDetails {
  address: Record<'city' | 'country' | 'line1' | 'line2' | 'postal_code' | 'state', string | null>;
  email: string | null;
  name: string | null;
  phone: string | null;
}

export function renderPaymentMethod(r: PaymentMethodRow) {
  return {
    id: r.id,
    object: 'payment_method' as const,
    allow_redisplay: 'unspecified',
    billing_details: { ...r.billing_details, tax_id: null },
    card: cardDetails(r),
    created: Number(r.created),
    customer: r.customer,
    livemode: false,
    metadata: r.metadata,
    type: 'card' as const,
  };
}

/** `card` of a PaymentMethod, also a charge's `payment_method_details.card`. */
export function cardDetails(r: PaymentMethodRow) {
  return {
    brand: r.brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: r.cvc_check },
    country: 'US',
    display_brand: r.brand,
    exp_month: r.exp_month,
    exp_year: r.exp_year,
    fingerprint: r.fingerprint,
    funding: r.funding,
    generated_from: null,
    last4: r.last4,
    networks: { available: [r.brand], preferred: null },
    regulated_status: 'unregulated',
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

export const paymentMethods = rowsById<PaymentMethodRow>('payment_methods', 'PaymentMethod');

export async function getPaymentMethod(q: Queryable, pmId: string) {
  const row = await paymentMethods.find(q, pmId);
  return row && renderPaymentMethod(row);
}

const Address = z.object({ city: text, country: text, line1: text, line2: text, postal_code: text, state: text }).partial().strict();

const BillingDetailsParams = z
  .object({ address: Address.optional(), email: text.optional(), name: text.optional(), phone: text.optional() })
  .strict();

const CreatePaymentMethod = z
  .object({
    type: z.literal('card', { message: 'only card is supported' }),
    card: z.object({ number: z.string().max(40), exp_month: formInt, exp_year: formInt, cvc: z.string().max(10).optional() }).strict(),
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

async function createPaymentMethod(tx: Tx, deps: SandboxDeps, p: z.infer<typeof CreatePaymentMethod>) {
  const now = new Date();
  const problem = detailError(p.card, { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 });
  if (problem) throw cardError(DETAIL_ERRORS[problem]);
  const digits = cardDigits(p.card.number)!;
  const facts = cardFacts(digits);
  const fingerprint = cardFingerprint(await deps.fingerprintKey(), digits);
  const cvcCheck = p.card.cvc === undefined ? null : facts.behaviour === 'incorrect_cvc' ? 'fail' : 'pass';
  const { rows } = await tx.q.query<PaymentMethodRow>(
    `insert into gateway_sandbox.payment_methods
       (id, created, brand, last4, exp_month, exp_year, fingerprint, funding, cvc_check, behaviour, billing_details, metadata)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`,
    [
      newId('pm'),
      tx.now,
      facts.brand,
      facts.last4,
      p.card.exp_month,
      fullYear(p.card.exp_year),
      fingerprint,
      facts.funding,
      cvcCheck,
      facts.behaviour,
      JSON.stringify(billingDetails(p.billing_details)),
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  const pm = renderPaymentMethod(rows[0]!);
  deps.log.info('gateway.payment_method_created', { payment_method: pm.id, brand: pm.card.brand });
  return pm;
}

/**
 * Attaches a card to a customer (attach, or a SetupIntent/PaymentIntent that
 * saves it) and emits payment_method.attached. The caller checked the card.
 */
export async function attachToCustomer(tx: Tx, pm: PaymentMethodRow, customerId: string) {
  const attached = renderPaymentMethod(await paymentMethods.update(tx.q, pm.id, { customer: customerId }));
  await tx.emit('payment_method.attached', attached, { customer: null });
  return attached;
}

/** A card attached to another customer cannot be used for this one. */
export function refuseOtherCustomer(pm: PaymentMethodRow, customerId: string | null, param = 'payment_method'): void {
  if (pm.customer !== null && pm.customer !== customerId) {
    throw invalidRequest(
      customerId === null
        ? `The provided PaymentMethod ${pm.id} is attached to a Customer. To use a PaymentMethod that has been attached to a Customer, you must include the Customer ID.`
        : `The provided PaymentMethod ${pm.id} belongs to a different Customer than ${customerId}.`,
      { param },
    );
  }
}

/** A new intent's customer and card exist, and the card is not another customer's. */
export async function checkIntentReferences(q: Queryable, customerId: string | undefined, pmId: string | undefined): Promise<void> {
  if (customerId !== undefined) await customers.require(q, customerId, 'customer');
  if (pmId !== undefined) refuseOtherCustomer(await paymentMethods.require(q, pmId, 'payment_method'), customerId ?? null);
}

/**
 * The card an intent is confirmed with (the one given, else the intent's),
 * locked for the transaction; `missing` is the error when there is none.
 */
export async function confirmingCard(
  tx: Tx,
  intent: { customer: string | null; payment_method: string | null },
  given: string | undefined,
  missing: () => ApiError,
): Promise<PaymentMethodRow> {
  const pmId = given ?? intent.payment_method;
  if (!pmId) throw missing();
  const pm = await paymentMethods.require(tx.q, pmId, 'payment_method', true);
  refuseOtherCustomer(pm, intent.customer);
  return pm;
}

async function attach(tx: Tx, pmId: string, p: z.infer<typeof Attach>) {
  const pm = await paymentMethods.require(tx.q, pmId, 'id', true);
  await customers.require(tx.q, p.customer, 'customer');
  if (pm.customer === p.customer) return renderPaymentMethod(pm);
  if (pm.customer !== null) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', { param: 'customer' });
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
  const detached = renderPaymentMethod(await paymentMethods.update(tx.q, pm.id, { customer: null }));
  await tx.emit('payment_method.detached', detached, { customer: pm.customer });
  return detached;
}

export function paymentMethodRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/payment_methods', { config: { publishable: true } }, async (req, reply) => {
    const p = parseParams(CreatePaymentMethod, req.body);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createPaymentMethod(tx, deps, p), p.expand));
  });

  http.get<{ Params: { id: string } }>('/v1/payment_methods/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    return expandObject(deps.pool, renderPaymentMethod(await paymentMethods.require(deps.pool, req.params.id)), p.expand);
  });

  http.post<{ Params: { id: string } }>('/v1/payment_methods/:id/attach', async (req, reply) => {
    const p = parseParams(Attach, req.body);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await attach(tx, req.params.id, p), p.expand));
  });

  http.post<{ Params: { id: string } }>('/v1/payment_methods/:id/detach', async (req, reply) => {
    const p = parseParams(Detach, req.body);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await detach(tx, req.params.id), p.expand));
  });

  http.get('/v1/payment_methods', async (req) => {
    const p = parseParams(ListPaymentMethods, req.query);
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
    return expandList(deps.pool, page, p.expand);
  });

  http.get<{ Params: { id: string } }>('/v1/customers/:id/payment_methods', async (req) => {
    const p = parseParams(ListCustomerPaymentMethods, req.query);
    await customers.require(deps.pool, req.params.id);
    const url = `/v1/customers/${req.params.id}/payment_methods`;
    const page = await listPage<PaymentMethodRow>(
      deps.pool,
      { table: 'payment_methods', kind: 'PaymentMethod', ...equalTo({ customer: req.params.id }), url, render: renderPaymentMethod },
      p,
    );
    return expandList(deps.pool, page, p.expand);
  });
}
