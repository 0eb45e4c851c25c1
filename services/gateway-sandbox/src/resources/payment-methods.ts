// PaymentMethods (cards), the model: rows, their rendering, and how a card
// comes to exist. The number and CVC are read in insertCard, turned into brand,
// last4, fingerprint and test behaviour, and dropped: no column, no log line.
// A test PaymentMethod name (`pm_card_visa`) given where a card id is expected
// makes a new card from its test number each time, as Stripe does.
// The routes are in payment-method-routes.ts.
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest, type ApiError } from '../api/errors.ts';
import { cardFingerprint } from '../api/fingerprint.ts';
import { newId } from '../api/ids.ts';
import { newMetadata } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import { cardFacts, type CardBehaviour } from '../domain/test-cards.ts';
import { testPaymentMethodNumber } from '../domain/test-payment-methods.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { liveCustomer, liveCustomerShared } from './customers.ts';

/** What making a card needs of the app: the fingerprint key. */
export type CardDeps = Pick<SandboxDeps, 'fingerprintKey'>;

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
  /** Saved for off-session use after authenticating: 4000002500003155 then pays off-session. */
  set_up: boolean;
  /** Detached from its customer, or charged while attached to none: Stripe refuses any further use. */
  consumed: boolean;
  billing_details: BillingDetails;
  metadata: Record<string, string>;
}

export interface BillingDetails {
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

/** Stripe's words for a card used after being detached, or after its one use unattached. */
export const CARD_CONSUMED =
  'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.';

/**
 * A card detached from a customer (or its customer deleted), or already used
 * once unattached, is refused: 400 invalid_request_error, no code (as Stripe answers).
 */
export function refuseConsumed(pm: PaymentMethodRow): void {
  if (pm.consumed) throw invalidRequest(CARD_CONSUMED);
}

/** A charge attempt (paid or declined) spends a card no customer holds: it may not be used again. */
export async function spendIfUnattached(tx: Tx, pmId: string): Promise<void> {
  await tx.q.query('update gateway_sandbox.payment_methods set consumed = true where id = $1 and customer is null', [pmId]);
}

export const NO_BILLING_DETAILS: BillingDetails = {
  address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
  email: null,
  name: null,
  phone: null,
};

/** A new card from its digits (already checked); the digits themselves are not kept. */
export async function insertCard(
  tx: Tx,
  deps: CardDeps,
  card: { digits: string; exp_month: number; exp_year: number; cvcGiven: boolean },
  extra: { billing_details: BillingDetails; metadata?: Record<string, string> | null | undefined },
): Promise<PaymentMethodRow> {
  const facts = cardFacts(card.digits);
  const fingerprint = cardFingerprint(await deps.fingerprintKey(), card.digits);
  const cvcCheck = !card.cvcGiven ? null : facts.behaviour === 'incorrect_cvc' ? 'fail' : 'pass';
  const { rows } = await tx.q.query<PaymentMethodRow>(
    `insert into gateway_sandbox.payment_methods
       (id, created, brand, last4, exp_month, exp_year, fingerprint, funding, cvc_check, behaviour, billing_details, metadata)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`,
    [
      newId('pm'),
      tx.now,
      facts.brand,
      facts.last4,
      card.exp_month,
      card.exp_year,
      fingerprint,
      facts.funding,
      cvcCheck,
      facts.behaviour,
      JSON.stringify(extra.billing_details),
      JSON.stringify(newMetadata(extra.metadata)),
    ],
  );
  return rows[0]!;
}

/** A test card as Stripe's test PaymentMethods and tokens have them: CVC checked, valid a few years more. */
export function insertTestCard(
  tx: Tx,
  deps: CardDeps,
  digits: string,
  extra: Parameters<typeof insertCard>[3] = { billing_details: NO_BILLING_DETAILS },
): Promise<PaymentMethodRow> {
  const year = new Date().getUTCFullYear() + 3;
  return insertCard(tx, deps, { digits, exp_month: 12, exp_year: year, cvcGiven: true }, extra);
}

/** The card an id names, locked when asked; a test PaymentMethod name (`pm_card_visa`) makes a new one. */
export async function cardById(tx: Tx, deps: CardDeps, pmId: string, param: string, lock = false): Promise<PaymentMethodRow> {
  const testNumber = testPaymentMethodNumber(pmId);
  if (testNumber !== undefined) return insertTestCard(tx, deps, testNumber);
  return paymentMethods.require(tx.q, pmId, param, lock);
}

/** A new intent's customer and card exist (a test name makes the card), and the card is not another customer's. */
export async function intentReferences(
  tx: Tx,
  deps: CardDeps,
  customerId: string | undefined,
  pmId: string | undefined,
): Promise<PaymentMethodRow | undefined> {
  if (customerId !== undefined) await liveCustomer(tx.q, customerId, 'customer');
  if (pmId === undefined) return undefined;
  const pm = await cardById(tx, deps, pmId, 'payment_method');
  refuseConsumed(pm);
  refuseOtherCustomer(pm, customerId ?? null);
  return pm;
}

/**
 * The card an intent is confirmed with (the one given, else the intent's),
 * locked for the transaction; `missing` is the error when there is none.
 * The intent's customer must still exist (share-locked, so a concurrent delete
 * waits; taken before the card, the order customers.del locks them in), and
 * the card must be usable: not detached, not spent, not another customer's.
 */
export async function confirmingCard(
  tx: Tx,
  deps: CardDeps,
  intent: { customer: string | null; payment_method: string | null },
  given: string | undefined,
  missing: () => ApiError,
): Promise<PaymentMethodRow> {
  const pmId = given ?? intent.payment_method;
  if (!pmId) throw missing();
  if (intent.customer !== null) await liveCustomerShared(tx.q, intent.customer);
  const pm = await cardById(tx, deps, pmId, 'payment_method', true);
  refuseConsumed(pm);
  refuseOtherCustomer(pm, intent.customer);
  return pm;
}
