// Refunds of a succeeded charge (by charge or PaymentIntent): at most the
// amount not yet refunded, nor while a chargeback of it is open, nor of what
// a lost one took (domain/refundable.ts); each emits charge.refunded and
// refund.created (Stripe points refund listeners to the latter). Listed
// newest first, by charge or PaymentIntent; a charge's `refunds` expands to
// its first page (refundsOfCharge).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage, type ListObject, type ListQuery } from '../api/lists.ts';
import { expand, formInt, id, listParams, metadata, newMetadata, parseParams, RetrieveParams } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { refundable } from '../domain/refundable.ts';
import { charges, renderCharge, type ChargeRow } from './charges.ts';
import { disputesOfCharge } from './disputes.ts';
import { paymentIntents } from './payment-intents.ts';

export interface RefundRow {
  id: string;
  created: string;
  amount: string;
  currency: string;
  charge: string;
  payment_intent: string | null;
  reason: string | null;
  metadata: Record<string, string>;
}

function renderRefund(r: RefundRow) {
  return {
    id: r.id,
    object: 'refund' as const,
    amount: Number(r.amount),
    balance_transaction: null,
    charge: r.charge,
    created: Number(r.created),
    currency: r.currency,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata: r.metadata,
    payment_intent: r.payment_intent,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}

const refunds = rowsById<RefundRow>('refunds', 'refund');

export async function getRefund(q: Queryable, refundId: string) {
  const row = await refunds.find(q, refundId);
  return row && renderRefund(row);
}

const CreateRefund = z
  .object({
    charge: id.optional(),
    payment_intent: id.optional(),
    amount: formInt.optional(),
    reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
    metadata: metadata.optional(),
    expand,
  })
  .strict();

const ListRefunds = z.object({ ...listParams, charge: id.optional(), payment_intent: id.optional() }).strict();

const money = (minor: number, currency: string) => (currency === 'usd' ? `$${(minor / 100).toFixed(2)}` : `${minor} ${currency}`);

async function createRefund(tx: Tx, p: z.infer<typeof CreateRefund>) {
  let chargeId = p.charge;
  if (p.payment_intent !== undefined) {
    const pi = await paymentIntents.require(tx.q, p.payment_intent, 'payment_intent');
    if (pi.status !== 'succeeded' || pi.latest_charge === null) {
      throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
        param: 'payment_intent',
        code: 'charge_not_refundable',
      });
    }
    if (chargeId !== undefined && chargeId !== pi.latest_charge) {
      throw invalidRequest('The charge does not belong to this PaymentIntent.', { param: 'charge' });
    }
    chargeId = pi.latest_charge;
  }
  if (chargeId === undefined) {
    throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', {
      code: 'parameter_missing',
    });
  }
  const charge = await charges.require(tx.q, chargeId, p.payment_intent === undefined ? 'charge' : 'payment_intent', true);
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, {
      code: 'charge_not_refundable',
      param: 'charge',
    });
  }
  // As Stripe: what the cardholder's bank is taking back (an open chargeback) or took (a lost one) is
  // not refunded as well; a won one gave the money back, so it may be refunded.
  const disputes = (await disputesOfCharge(tx.q, charge.id)).map((d) => ({ id: d.id, status: d.status, amount: Number(d.amount) }));
  const room = refundable({ amount: Number(charge.amount), amountRefunded: Number(charge.amount_refunded) }, disputes);
  const chargedBack = () =>
    invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, { code: 'charge_disputed', param: 'charge' });
  if (room.openDispute) throw chargedBack();
  const remaining = room.amount;
  if (remaining === 0) {
    if (room.lost > 0) throw chargedBack();
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
  }
  const amount = p.amount ?? remaining;
  if (amount <= 0) throw invalidRequest('Invalid positive integer', { param: 'amount', code: 'parameter_invalid_integer' });
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${money(amount, charge.currency)}) is greater than unrefunded amount on charge (${money(remaining, charge.currency)})`,
      { param: 'amount', code: 'amount_too_large' },
    );
  }
  const { rows } = await tx.q.query<RefundRow>(
    `insert into gateway_sandbox.refunds (id, created, amount, currency, charge, payment_intent, reason, metadata)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
    [
      newId('re'),
      tx.now,
      amount,
      charge.currency,
      charge.id,
      charge.payment_intent,
      p.reason ?? null,
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  const updated = await tx.q.query<ChargeRow>(
    'update gateway_sandbox.charges set amount_refunded = amount_refunded + $2 where id = $1 returning *',
    [charge.id, amount],
  );
  const chargeObject = await renderCharge(tx.q, updated.rows[0]!);
  await tx.emit('charge.refunded', chargeObject, { amount_refunded: Number(charge.amount_refunded), refunded: false });
  const refund = renderRefund(rows[0]!);
  await tx.emit('refund.created', refund);
  return refund;
}

/** A charge's `refunds` when expanded (Stripe's list, newest first; no longer on the charge unless asked for). */
export function refundsOfCharge(q: Queryable, chargeId: string, query: ListQuery = {}): Promise<ListObject<object>> {
  return listPage<RefundRow>(
    q,
    { table: 'refunds', kind: 'refund', ...equalTo({ charge: chargeId }), url: `/v1/charges/${chargeId}/refunds`, render: renderRefund },
    query,
  );
}

export function refundRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/refunds', async (req, reply) => {
    const p = parseParams(CreateRefund, req.body);
    const toExpand = expansion('refund', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createRefund(tx, p), toExpand));
  });

  http.get('/v1/refunds', async (req) => {
    const p = parseParams(ListRefunds, req.query);
    const toExpand = listExpansion('refund', p.expand);
    const filters = equalTo({ charge: p.charge, payment_intent: p.payment_intent });
    const page = await listPage<RefundRow>(
      deps.pool,
      { table: 'refunds', kind: 'refund', ...filters, url: '/v1/refunds', render: renderRefund },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });

  // The list an expanded charge's `refunds.url` names.
  http.get<{ Params: { id: string } }>('/v1/charges/:id/refunds', async (req) => {
    const p = parseParams(z.object(listParams).strict(), req.query);
    const toExpand = listExpansion('refund', p.expand);
    await charges.require(deps.pool, req.params.id);
    return expandList(deps.pool, await refundsOfCharge(deps.pool, req.params.id, p), toExpand);
  });

  http.get<{ Params: { id: string } }>('/v1/refunds/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    const toExpand = expansion('refund', p.expand);
    return expandObject(deps.pool, renderRefund(await refunds.require(deps.pool, req.params.id)), toExpand);
  });
}
