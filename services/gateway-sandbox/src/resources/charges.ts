// Charges: written by PaymentIntent confirmation (one per attempt, succeeded
// or failed), read here: GET /v1/charges/:id and the list.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { newId } from '../api/ids.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { id, listParams, parseParams, RetrieveParams } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import { chargeOutcome, type CardFailure } from '../domain/test-cards.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { cardDetails, paymentMethods, type PaymentMethodRow } from './payment-methods.ts';

export interface ChargeRow {
  id: string;
  created: string;
  amount: string;
  amount_refunded: string;
  currency: string;
  customer: string | null;
  payment_intent: string | null;
  payment_method: string | null;
  status: 'succeeded' | 'failed';
  failure_code: string | null;
  failure_message: string | null;
  outcome: Record<string, unknown>;
  description: string | null;
  metadata: Record<string, string>;
  receipt_email: string | null;
  statement_descriptor_suffix: string | null;
  /** A dispute was opened on it (disputes.ts). */
  disputed: boolean;
}

export async function renderCharge(q: Queryable, r: ChargeRow) {
  const pm = r.payment_method ? await paymentMethods.find(q, r.payment_method) : undefined;
  return chargeObject(r, pm);
}

function chargeObject(r: ChargeRow, pm: PaymentMethodRow | undefined) {
  const amount = Number(r.amount);
  const refunded = Number(r.amount_refunded);
  const succeeded = r.status === 'succeeded';
  return {
    id: r.id,
    object: 'charge' as const,
    amount,
    amount_captured: succeeded ? amount : 0,
    amount_refunded: refunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: pm ? { ...pm.billing_details, tax_id: null } : null,
    calculated_statement_descriptor: statementDescriptor(r.statement_descriptor_suffix),
    captured: succeeded,
    created: Number(r.created),
    currency: r.currency,
    customer: r.customer,
    description: r.description,
    disputed: r.disputed,
    failure_balance_transaction: null,
    failure_code: r.failure_code,
    failure_message: r.failure_message,
    fraud_details: {},
    livemode: false,
    metadata: r.metadata,
    on_behalf_of: null,
    outcome: r.outcome,
    paid: succeeded,
    payment_intent: r.payment_intent,
    payment_method: r.payment_method,
    payment_method_details: pm ? { card: cardDetails(pm), type: 'card' } : null,
    receipt_email: r.receipt_email,
    receipt_url: null,
    refunded: succeeded && refunded === amount,
    review: null,
    shipping: null,
    statement_descriptor: null,
    statement_descriptor_suffix: r.statement_descriptor_suffix,
    status: r.status,
    transfer_data: null,
    transfer_group: null,
  };
}

/** The account's prefix, then the intent's suffix after `* `, uppercase, at most 22 characters (Stripe's rule). */
function statementDescriptor(suffix: string | null): string {
  return suffix === null ? 'VAULT SANDBOX' : `VAULT* ${suffix}`.toUpperCase().slice(0, 22);
}

export const charges = rowsById<ChargeRow>('charges', 'charge');

export async function getCharge(q: Queryable, chargeId: string) {
  const row = await charges.find(q, chargeId);
  return row && renderCharge(q, row);
}

/** Records one charge attempt of a PaymentIntent and emits charge.succeeded / charge.failed. */
export async function recordCharge(
  tx: Tx,
  a: {
    amount: string;
    currency: string;
    customer: string | null;
    paymentIntent: string;
    pm: PaymentMethodRow;
    description: string | null;
    metadata: Record<string, string>;
    receiptEmail: string | null;
    statementDescriptorSuffix: string | null;
    failure: CardFailure | undefined;
  },
) {
  const { rows } = await tx.q.query<ChargeRow>(
    `insert into gateway_sandbox.charges
       (id, created, amount, currency, customer, payment_intent, payment_method, status, failure_code, failure_message, outcome, description,
        metadata, receipt_email, statement_descriptor_suffix)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) returning *`,
    [
      newId('ch'),
      tx.now,
      a.amount,
      a.currency,
      a.customer,
      a.paymentIntent,
      a.pm.id,
      a.failure ? 'failed' : 'succeeded',
      a.failure?.code ?? null,
      a.failure?.message ?? null,
      JSON.stringify(chargeOutcome(a.failure)),
      a.description,
      JSON.stringify(a.metadata),
      a.receiptEmail,
      a.statementDescriptorSuffix,
    ],
  );
  const charge = chargeObject(rows[0]!, a.pm);
  await tx.emit(a.failure ? 'charge.failed' : 'charge.succeeded', charge);
  return charge;
}

const ListCharges = z.object({ ...listParams, customer: id.optional(), payment_intent: id.optional() }).strict();

export function chargeRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.get<{ Params: { id: string } }>('/v1/charges/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    const toExpand = expansion('charge', p.expand);
    const charge = await charges.require(deps.pool, req.params.id);
    return expandObject(deps.pool, await renderCharge(deps.pool, charge), toExpand);
  });

  http.get('/v1/charges', async (req) => {
    const p = parseParams(ListCharges, req.query);
    const toExpand = listExpansion('charge', p.expand);
    const filters = equalTo({ customer: p.customer, payment_intent: p.payment_intent });
    const page = await listPage<ChargeRow>(
      deps.pool,
      { table: 'charges', kind: 'charge', ...filters, url: '/v1/charges', render: (r) => renderCharge(deps.pool, r) },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });
}
