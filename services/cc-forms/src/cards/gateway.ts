// The card form's calls to the payment gateway, server side, with the secret
// key through the official SDK. The routes see only this interface, so tests
// can stand in for the gateway.
import { createdUnderKey, gatewayOrigin, Stripe, unreachableFields, type Gateway } from '@vault/gateway';

export interface SetupIntentSeen {
  id: string;
  status: string;
  customerId: string | undefined;
  paymentMethodId: string | undefined;
}

export interface PaymentMethodSeen {
  id: string;
  customerId: string | undefined;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** The gateway's fingerprint of the card number (`card.fingerprint`): invoicing blocks a card charged back as fraud by it. */
  fingerprint?: string | undefined;
}

/** An invoice's PaymentIntent, as the authenticate-and-pay page needs it. */
export interface PaymentIntentSeen {
  id: string;
  status: string;
  customerId: string | undefined;
  /** Minor units (cents). */
  amount: number;
  currency: string;
  /** Only ever sent to the signed-in account the intent belongs to. */
  clientSecret: string | undefined;
  /** Invoicing's metadata: which invoice and account it pays. */
  metadata: Record<string, string>;
  /** The card the refused off-session attempt used: the one to authenticate. */
  lastPaymentMethodId: string | undefined;
  /** The bank's words when it declined the last try (after 3-D Secure), not a request to authenticate. */
  lastDecline?: string | undefined;
}

export interface CardGateway {
  /** The account's customer, created at most once: `idempotencyKey` is the account's stored random key. */
  createCustomer(accountId: string, idempotencyKey: string): Promise<string>;
  /**
   * The account's customer a create under `idempotencyKey` made, read from its customer.created event, or
   * undefined: what a 500 under that key left (customer-creation.ts). A stand-in may lack it.
   */
  customerCreatedUnder?(accountId: string, idempotencyKey: string): Promise<string | undefined>;
  /** A setup intent for an off-session card of the customer; returns its id and client secret. */
  createSetupIntent(customerId: string, accountId: string): Promise<{ id: string; clientSecret: string }>;
  /** The setup intent, or undefined if the gateway does not know it. */
  setupIntent(id: string): Promise<SetupIntentSeen | undefined>;
  paymentMethod(id: string): Promise<PaymentMethodSeen | undefined>;
  /** The customer's default payment method for invoices (what charges use); one short try (MAKE_DEFAULT_TIMEOUT_MS). */
  makeDefault(customerId: string, paymentMethodId: string): Promise<void>;
  /** Takes the card off its customer (a card refused as blocked, blocked.ts); one short try, as makeDefault. */
  detach(paymentMethodId: string): Promise<void>;
  /** A PaymentIntent (an invoice's), or undefined if the gateway does not know it. */
  paymentIntent(id: string): Promise<PaymentIntentSeen | undefined>;
}

/** The gateway did not answer usefully (down, 5xx, refused our key): the customer should retry later. */
export class GatewayUnavailable extends Error {
  constructor(
    readonly errorClass: string,
    readonly code: string | undefined,
    readonly requestId: string | undefined,
    /** The gateway's HTTP status, when it answered: a 5xx is kept under the request's idempotency key. */
    readonly statusCode?: number | undefined,
    /**
     * When it could not be reached (refused, reset, timed out, no such host): `gateway`, GATEWAY_URL's
     * origin (never a key), and `cause`, what the network said; logged with the error's fields, as
     * invoicing's are (the SDK says only "our connection to Stripe"). Empty when the gateway answered.
     */
    readonly unreachable: Readonly<Record<string, string>> = {},
  ) {
    const where = unreachable.cause ? `; ${unreachable.gateway ? `gateway ${unreachable.gateway}: ` : ''}${unreachable.cause}` : '';
    super(`payment gateway call failed (${errorClass}${code ? ` ${code}` : ''}${where})`);
  }
}

/** Codes asking for the cardholder: invoicing's charger reads them (a soft decline's decline_code too) as action_required. */
const ASKING = new Set(['authentication_required', 'requires_action']);

/**
 * A card's own decline (Stripe's card_error), not a request for the cardholder: the off-session
 * attempt's `authentication_required`, or a soft decline (`card_declined` with that decline_code).
 */
export const declineOf = (
  e: { type: string; code?: string | undefined; decline_code?: string | undefined; message?: string | undefined } | null | undefined,
) =>
  e?.type === 'card_error' && !ASKING.has(e.code ?? '') && e.decline_code !== 'authentication_required'
    ? (e.message ?? 'Your card was declined.')
    : undefined;

const idOf = (value: string | { id: string } | null | undefined) =>
  value == null ? undefined : typeof value === 'string' ? value : value.id;

/** `unreachableFields`' cause, with the SDK's own words for a timeout (its cause says only ETIMEDOUT). */
function unreachableOf(err: InstanceType<typeof Stripe.errors.StripeError>, origin: string | undefined): Record<string, string> {
  const fields = unreachableFields(err, origin);
  if (fields.cause === 'ETIMEDOUT' && /timeout/i.test(err.message)) fields.cause = `ETIMEDOUT (${err.message})`;
  return fields;
}

/**
 * A missing object is undefined; anything else the gateway says is GatewayUnavailable, carrying ids
 * and codes only, and `origin` (the client's GATEWAY_URL origin) with the network's cause when it
 * could not be reached.
 */
async function call<T>(fn: () => Promise<T>, origin: string | undefined, missingIsUndefined = false): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) {
      if (missingIsUndefined && err.code === 'resource_missing') return undefined;
      throw new GatewayUnavailable(err.type, err.code, err.requestId, err.statusCode, unreachableOf(err, origin));
    }
    throw err;
  }
}

/**
 * makeDefault runs under the account's card lock, holding a pooled connection: one try, bounded
 * tightly, not the client's 30 s and two retries (up to ~90 s). A Stripe customer update answers
 * in well under a second; one that times out is a 502 and the customer saves the card again.
 */
export const MAKE_DEFAULT_TIMEOUT_MS = 5_000;

export function sdkCardGateway(stripe: Gateway, options: { makeDefaultTimeoutMs?: number } = {}): CardGateway {
  const makeDefaultLimits = { timeout: options.makeDefaultTimeoutMs ?? MAKE_DEFAULT_TIMEOUT_MS, maxNetworkRetries: 0 };
  // What a failure that never reached the gateway names (gatewayClient remembers it; undefined for a test's own client).
  const origin = gatewayOrigin(stripe);
  return {
    async createCustomer(accountId, idempotencyKey) {
      const customer = await call(
        () =>
          stripe.customers.create(
            // The same parameters every time: the idempotency key must replay, never conflict.
            { description: `The Vault account ${accountId}`, metadata: { account_id: accountId } },
            { idempotencyKey },
          ),
        origin,
      );
      return customer!.id;
    },
    async customerCreatedUnder(accountId, idempotencyKey) {
      return call(() => createdUnderKey(stripe, 'customer.created', idempotencyKey, (c) => c.metadata?.account_id === accountId), origin);
    },
    async createSetupIntent(customerId, accountId) {
      const si = await call(
        () =>
          stripe.setupIntents.create({
            customer: customerId,
            // Cards are the default (and the only type the sandbox knows); this API
            // version names the list `allowed_payment_method_types`, older ones otherwise.
            usage: 'off_session',
            metadata: { account_id: accountId },
          }),
        origin,
      );
      if (!si!.client_secret) throw new GatewayUnavailable('MissingClientSecret', undefined, undefined);
      return { id: si!.id, clientSecret: si!.client_secret };
    },
    async setupIntent(id) {
      const si = await call(() => stripe.setupIntents.retrieve(id), origin, true);
      if (!si) return undefined;
      return { id: si.id, status: si.status, customerId: idOf(si.customer), paymentMethodId: idOf(si.payment_method) };
    },
    async paymentMethod(id) {
      const pm = await call(() => stripe.paymentMethods.retrieve(id), origin, true);
      if (!pm?.card) return undefined;
      return {
        id: pm.id,
        customerId: idOf(pm.customer),
        brand: pm.card.brand,
        last4: pm.card.last4,
        expMonth: pm.card.exp_month,
        expYear: pm.card.exp_year,
        ...(pm.card.fingerprint ? { fingerprint: pm.card.fingerprint } : {}),
      };
    },
    async makeDefault(customerId, paymentMethodId) {
      await call(
        () => stripe.customers.update(customerId, { invoice_settings: { default_payment_method: paymentMethodId } }, makeDefaultLimits),
        origin,
      );
    },
    async detach(paymentMethodId) {
      // The customer's request waits on it, and a card left attached is never charged (not on file).
      await call(() => stripe.paymentMethods.detach(paymentMethodId, {}, makeDefaultLimits), origin);
    },
    async paymentIntent(id) {
      const pi = await call(() => stripe.paymentIntents.retrieve(id), origin, true);
      if (!pi) return undefined;
      return {
        id: pi.id,
        status: pi.status,
        customerId: idOf(pi.customer),
        amount: pi.amount,
        currency: pi.currency,
        clientSecret: pi.client_secret ?? undefined,
        metadata: { ...pi.metadata },
        lastPaymentMethodId: idOf(pi.last_payment_error?.payment_method ?? null),
        lastDecline: declineOf(pi.last_payment_error),
      };
    },
  };
}

/**
 * The fingerprint backfill's read (fingerprint-backfill.ts): one try, bounded as makeDefault, so a
 * background pass never holds the app's stop for the client's 30 s and two retries; the pass's next
 * tick is its retry. `gone`: the gateway does not know the payment method (resource_missing), or it
 * is no card with a fingerprint. Anything else the gateway says is GatewayUnavailable.
 */
export async function readCardFingerprint(
  stripe: Gateway,
  paymentMethodId: string,
  timeoutMs = MAKE_DEFAULT_TIMEOUT_MS,
): Promise<{ fingerprint: string } | 'gone'> {
  const pm = await call(
    () => stripe.paymentMethods.retrieve(paymentMethodId, {}, { timeout: timeoutMs, maxNetworkRetries: 0 }),
    gatewayOrigin(stripe),
    true,
  );
  return pm?.card?.fingerprint ? { fingerprint: pm.card.fingerprint } : 'gone';
}
