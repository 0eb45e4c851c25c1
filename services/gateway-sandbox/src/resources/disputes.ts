// Disputes (chargebacks), as Stripe's test mode makes them: a succeeded charge
// of a card whose behaviour disputes it (4000000000000259, pm_card_createDispute)
// is disputed at once, in the same transaction, its amount withdrawn
// (charge.dispute.created, charge.dispute.funds_withdrawn). Evidence decides
// it: `uncategorized_text` winning_evidence wins (funds reinstated, closed),
// losing_evidence loses (closed); other evidence submitted leaves it under
// review. Closing it concedes (lost). A closed dispute takes no more evidence.
// `is_charge_refundable` says whether a refund of its charge would be taken
// now (domain/refundable.ts: never while open; won, what is not refunded; lost,
// what it did not take). A sandbox test helper (not Stripe's API) disputes a
// charge for part of its amount, which no Stripe test card does.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { expand, formBool, formInt, id, listParams, mergeMetadata, metadata, parseParams, RetrieveParams } from '../api/params.ts';
import { disputeFee } from '../domain/dispute-fees.ts';
import { refundable } from '../domain/refundable.ts';
import { rowsById } from '../store/rows.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { charges, type ChargeRow } from './charges.ts';

type DisputeStatus = 'needs_response' | 'under_review' | 'won' | 'lost';

export interface DisputeRow {
  id: string;
  created: string;
  amount: string;
  currency: string;
  charge: string;
  payment_intent: string | null;
  reason: string;
  status: DisputeStatus;
  evidence: Record<string, string>;
  submission_count: number;
  balance_transactions: object[];
  metadata: Record<string, string>;
}

/** Stripe's evidence fields (text, or the id of an uploaded file): every one shown, null until given. */
const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const;

/** Stripe's test-mode evidence: what `uncategorized_text` decides. */
const WINNING_EVIDENCE = 'winning_evidence';
const LOSING_EVIDENCE = 'losing_evidence';

/** How long the merchant has to answer (Stripe shows a date some days ahead). */
const RESPONSE_SECONDS = 7 * 86_400;

/** A dispute as the API shows it, read with its charge (whether a refund of it would be taken now). */
async function renderDispute(q: Queryable, r: DisputeRow) {
  const charge = await charges.find(q, r.charge);
  const facts = { amount: Number(charge?.amount ?? 0), amountRefunded: Number(charge?.amount_refunded ?? 0) };
  const closed = r.status === 'won' || r.status === 'lost';
  return {
    id: r.id,
    object: 'dispute' as const,
    amount: Number(r.amount),
    balance_transactions: r.balance_transactions,
    charge: r.charge,
    created: Number(r.created),
    currency: r.currency,
    evidence: Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, r.evidence[f] ?? null])),
    evidence_details: {
      due_by: closed ? null : Number(r.created) + RESPONSE_SECONDS,
      has_evidence: Object.keys(r.evidence).length > 0,
      past_due: false,
      submission_count: r.submission_count,
    },
    // Stripe's: whether the charge may still be refunded (never while the chargeback is open).
    is_charge_refundable: refundable(facts, [{ id: r.id, status: r.status, amount: Number(r.amount) }]).amount > 0,
    livemode: false,
    metadata: r.metadata,
    payment_intent: r.payment_intent,
    reason: r.reason,
    status: r.status,
  };
}

const disputes = rowsById<DisputeRow>('disputes', 'dispute');

/** The disputes of a charge (Stripe may have several; this sandbox opens one at most). */
export async function disputesOfCharge(q: Queryable, chargeId: string): Promise<DisputeRow[]> {
  return (await q.query<DisputeRow>('select * from gateway_sandbox.disputes where charge = $1 order by seq', [chargeId])).rows;
}

/**
 * A balance transaction of the dispute: `amount` negative for the withdrawal, which also takes
 * Stripe's dispute fee (`fee`, net = amount − fee), positive for the reinstatement, which gives
 * the fee back (a negative fee).
 */
function balanceTransaction(tx: Tx, disputeId: string, amount: number, currency: string, category: 'dispute' | 'dispute_reversal') {
  const fee = disputeFee(currency) * (category === 'dispute' ? 1 : -1);
  return {
    id: newId('txn'),
    object: 'balance_transaction',
    amount,
    available_on: tx.now,
    created: tx.now,
    currency,
    description: category === 'dispute' ? 'Chargeback withdrawal' : 'Chargeback reversal',
    exchange_rate: null,
    fee,
    fee_details: fee === 0 ? [] : [{ amount: fee, application: null, currency, description: 'Dispute fee', type: 'stripe_fee' }],
    net: amount - fee,
    reporting_category: category,
    source: disputeId,
    status: 'available',
    type: 'adjustment',
  };
}

/**
 * Disputes a succeeded charge as the cardholder's bank does, in the caller's
 * transaction: the dispute (needs_response), the charge `disputed`, `amount`
 * (its whole amount unless given) withdrawn; emits charge.dispute.created and
 * charge.dispute.funds_withdrawn.
 */
export async function openDispute(tx: Tx, charge: ChargeRow, reason: string, amount = Number(charge.amount)): Promise<DisputeRow> {
  const disputeId = newId('dp');
  const withdrawal = balanceTransaction(tx, disputeId, -amount, charge.currency, 'dispute');
  const { rows } = await tx.q.query<DisputeRow>(
    `insert into gateway_sandbox.disputes (id, created, amount, currency, charge, payment_intent, reason, status, balance_transactions)
     values ($1, $2, $3, $4, $5, $6, $7, 'needs_response', $8) returning *`,
    [disputeId, tx.now, amount, charge.currency, charge.id, charge.payment_intent, reason, JSON.stringify([withdrawal])],
  );
  await tx.q.query('update gateway_sandbox.charges set disputed = true where id = $1', [charge.id]);
  const dispute = await renderDispute(tx.q, rows[0]!);
  await tx.emit('charge.dispute.created', dispute);
  await tx.emit('charge.dispute.funds_withdrawn', dispute);
  return rows[0]!;
}

/** Stripe's dispute reasons. */
const REASONS = [
  'bank_cannot_process',
  'credit_not_processed',
  'customer_initiated',
  'debit_not_authorized',
  'duplicate',
  'fraudulent',
  'general',
  'incorrect_account_details',
  'insufficient_funds',
  'product_not_received',
  'product_unacceptable',
  'subscription_canceled',
  'unrecognized',
] as const;

const CreateTestDispute = z.object({ amount: formInt.optional(), reason: z.enum(REASONS).optional(), expand }).strict();

/**
 * The test helper (the sandbox's, not Stripe's API): the cardholder's bank disputes a succeeded charge
 * now, for `amount` (default all of it; at most the charge's), as a test card's charge is at once.
 */
async function createTestDispute(tx: Tx, chargeId: string, p: z.infer<typeof CreateTestDispute>) {
  // The charge locked as a refund locks it: a refund and a dispute of it are never decided on stale rows.
  const charge = await charges.require(tx.q, chargeId, 'charge', true);
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be disputed.`, { param: 'charge' });
  }
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} is already disputed.`, { param: 'charge', code: 'charge_disputed' });
  const amount = p.amount ?? Number(charge.amount);
  if (amount <= 0 || amount > Number(charge.amount)) {
    throw invalidRequest(`The amount disputed must be between 1 and the charge's amount (${charge.amount}).`, {
      param: 'amount',
      code: 'parameter_invalid_integer',
    });
  }
  return renderDispute(tx.q, await openDispute(tx, charge, p.reason ?? 'general', amount));
}

const Evidence = z.object(Object.fromEntries(EVIDENCE_FIELDS.map((f) => [f, z.string().max(150_000).optional()]))).strict();

const UpdateDispute = z
  .object({ evidence: Evidence.optional(), metadata: metadata.optional(), submit: formBool.optional(), expand })
  .strict();

const ListDisputes = z.object({ ...listParams, charge: id.optional(), payment_intent: id.optional() }).strict();

async function openForChange(tx: Tx, disputeId: string): Promise<DisputeRow> {
  const row = await disputes.require(tx.q, disputeId, 'dispute', true);
  if (row.status === 'won' || row.status === 'lost') {
    throw invalidRequest(`This dispute is already closed (${row.status}).`, { code: 'charge_dispute_closed' });
  }
  return row;
}

/** Closes a dispute: won reinstates the funds (charge.dispute.funds_reinstated), then charge.dispute.closed. */
async function close(tx: Tx, row: DisputeRow, status: 'won' | 'lost'): Promise<DisputeRow> {
  const balance =
    status === 'won'
      ? [...row.balance_transactions, balanceTransaction(tx, row.id, Number(row.amount), row.currency, 'dispute_reversal')]
      : row.balance_transactions;
  const closed = await disputes.update(tx.q, row.id, { status, balance_transactions: balance });
  const shown = await renderDispute(tx.q, closed);
  if (status === 'won') await tx.emit('charge.dispute.funds_reinstated', shown);
  // Open, it was not refundable: closing may make it so (won, or lost for part of the charge).
  await tx.emit('charge.dispute.closed', shown, {
    status: row.status,
    ...(shown.is_charge_refundable ? { is_charge_refundable: false } : {}),
  });
  return closed;
}

async function updateDispute(tx: Tx, disputeId: string, p: z.infer<typeof UpdateDispute>) {
  const row = await openForChange(tx, disputeId);
  const evidence = { ...row.evidence };
  for (const [field, value] of Object.entries(p.evidence ?? {})) {
    if (value === undefined) continue;
    if (value === '') delete evidence[field];
    else evidence[field] = value;
  }
  // Stripe submits new evidence unless told not to (submit=false keeps it as a draft); submit=true alone
  // submits what was staged.
  const submitted = p.submit === true || (p.submit === undefined && p.evidence !== undefined);
  const status: DisputeStatus = submitted ? 'under_review' : row.status;
  const updated = await disputes.update(tx.q, row.id, {
    evidence,
    metadata: mergeMetadata(row.metadata, p.metadata),
    status,
    submission_count: row.submission_count + (submitted ? 1 : 0),
  });
  await tx.emit('charge.dispute.updated', await renderDispute(tx.q, updated), status === row.status ? {} : { status: row.status });
  if (!submitted) return renderDispute(tx.q, updated);
  const decided = evidence.uncategorized_text;
  if (decided === WINNING_EVIDENCE) return renderDispute(tx.q, await close(tx, updated, 'won'));
  if (decided === LOSING_EVIDENCE) return renderDispute(tx.q, await close(tx, updated, 'lost'));
  return renderDispute(tx.q, updated);
}

export function disputeRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.get<{ Params: { id: string } }>('/v1/disputes/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    const toExpand = expansion('dispute', p.expand);
    return expandObject(deps.pool, await renderDispute(deps.pool, await disputes.require(deps.pool, req.params.id)), toExpand);
  });

  http.get('/v1/disputes', async (req) => {
    const p = parseParams(ListDisputes, req.query);
    const toExpand = listExpansion('dispute', p.expand);
    const filters = equalTo({ charge: p.charge, payment_intent: p.payment_intent });
    const page = await listPage<DisputeRow>(
      deps.pool,
      { table: 'disputes', kind: 'dispute', ...filters, url: '/v1/disputes', render: (row) => renderDispute(deps.pool, row) },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });

  http.post<{ Params: { id: string } }>('/v1/disputes/:id', async (req, reply) => {
    const p = parseParams(UpdateDispute, req.body);
    const toExpand = expansion('dispute', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await updateDispute(tx, req.params.id, p), toExpand));
  });

  http.post<{ Params: { id: string } }>('/v1/disputes/:id/close', async (req, reply) => {
    const p = parseParams(RetrieveParams, req.body);
    const toExpand = expansion('dispute', p.expand);
    return mutate(deps, req, reply, async (tx) =>
      expandObject(tx.q, await renderDispute(tx.q, await close(tx, await openForChange(tx, req.params.id), 'lost')), toExpand),
    );
  });

  http.post<{ Params: { id: string } }>('/v1/test_helpers/charges/:id/dispute', async (req, reply) => {
    const p = parseParams(CreateTestDispute, req.body);
    const toExpand = expansion('dispute', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createTestDispute(tx, req.params.id, p), toExpand));
  });
}
