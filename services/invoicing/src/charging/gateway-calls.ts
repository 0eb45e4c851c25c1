// Charging's calls to the gateway through the Stripe SDK, and how an answer
// (or an error) becomes one of decide.ts's Answers. Every POST carries our own
// idempotency key, so the SDK's retries and our replays never double an effect.
import type { Gateway } from '@vault/gateway';
import { createdUnderKey, gatewayOrigin, Stripe, unreachableCause } from '@vault/gateway';
import { dropEndpointsRegisteredUnder, REGISTRATION_KEY } from './endpoint-registrations.ts';
import { type BlockCardRead, readBlockedCard } from './block-card-reads.ts';
import type { Answer } from './decide.ts';
import type { ReportedPayment } from './payment-match.ts';

export interface NewPaymentIntent {
  invoiceId: string;
  accountId: string;
  number: string;
  /** Minor units. */
  amount: number;
  currency: string;
  customerId: string;
  /** The invoice's random key, stored on its charge row before this request (never the invoice id). */
  idempotencyKey: string;
}

export interface Confirm {
  invoiceId: string;
  attempt: number;
  paymentIntentId: string;
  paymentMethodId: string;
  /** The invoice's stored key: the attempt is sent with `<key>:attempt:<n>`. */
  idempotencyKey: string;
}

export interface RegisteredEndpoint {
  id: string;
  secret: string;
}

/** A PaymentIntent as the gateway reports it now: whether it pays an invoice is paysInvoice's to say. */
export interface ReportedIntent {
  id: string;
  status: string;
  /** Minor units received (`amount_received`), else `amount`. */
  amount: number;
  currency: string;
  paymentMethodId: string | null;
  /** Why its last payment failed (`last_payment_error`), when it did: a card's answer, and which card. */
  lastError?: { code: string; declineCode: string | null; message: string; paymentMethodId: string | null } | undefined;
  /** Its charge (`latest_charge`) as refunds left it, when it has one: a refund may predate our record of the payment. */
  charge?: ReportedCharge | undefined;
  /** Its charge was disputed (a chargeback): refundable only once closed (won: all of it; lost: what it did not take). */
  disputed?: boolean | undefined;
}

/** A PaymentIntent's charge: what refunds.ts records (amount_refunded is cumulative, minor units). */
export interface ReportedCharge {
  id: string;
  amount_refunded: number;
  currency: string;
}

/** A dispute (chargeback) of a PaymentIntent's charge, as the gateway reports it now. */
export interface ReportedDispute {
  id: string;
  paymentIntentId: string | null;
  /** Minor units disputed. */
  amount: number;
  currency: string;
  /** Stripe's: `lost` is closed with the money the cardholder's; open ones (`needs_response`, `under_review`, …) and `won` are not. */
  status: string;
  /**
   * Stripe's `is_charge_refundable`: a refund of its charge would be taken now (an inquiry, a won one,
   * a lost one for part of the charge); never while a chargeback is open. Unread: not known.
   */
  refundable?: boolean | undefined;
}

/** The answer of a confirm the gateway left `processing`: it may still succeed or fail. */
export const PAYMENT_INTENT_PROCESSING = 'payment_intent_processing';

/** What charging asks of the gateway; tests may put anything with this shape in its place. */
export interface ChargeGateway {
  /** The PaymentIntent now, or no answer: a cardholder may have confirmed it on our page since. */
  retrievePaymentIntent(id: string): Promise<ReportedIntent | { error: Answer }>;
  /** The invoice's one PaymentIntent (key: its stored random key), or why there is none yet. */
  createPaymentIntent(p: NewPaymentIntent): Promise<{ id: string } | { error: Answer }>;
  /** One attempt: confirm off-session with the card (key: `<stored key>:attempt:<n>`). */
  confirm(c: Confirm): Promise<Answer>;
  /** The disputes of the PaymentIntent's charges (a stray payment charged back: save-payment.ts), or no answer. */
  listDisputes(paymentIntentId: string): Promise<ReportedDispute[] | { error: Answer }>;
  /** Cancels a PaymentIntent charging lets go of, so no page can pay it any more: canceled, paid meanwhile, or why not. */
  cancelPaymentIntent(id: string): Promise<'canceled' | 'succeeded' | { error: string }>;
  /** Registers a webhook endpoint for WEBHOOK_EVENTS; replaying `key` gives the first answer. */
  registerWebhookEndpoint(url: string, key: string): Promise<RegisteredEndpoint>;
  /**
   * Deletes the endpoints at `url` that a registration under `key` made (its metadata names the key): what a
   * 500 under the key may have left, its secret never seen. Returns their ids. A stand-in may lack it.
   */
  dropEndpointsRegisteredUnder?(url: string, key: string): Promise<string[]>;
  /**
   * The PaymentIntent of the invoice that a create under `key` made (its payment_intent.created event names
   * the key), or undefined: what a 500 under the key may have left. A stand-in may lack it.
   */
  paymentIntentCreatedUnder?(invoiceId: string, key: string): Promise<string | undefined>;
  /**
   * False when the gateway no longer knows the endpoint (resource_missing);
   * otherwise also makes sure it is enabled, for every event invoicing handles
   * (an endpoint registered by an earlier version lacks charge.refunded; one
   * the gateway disabled after failed deliveries is enabled again).
   */
  webhookEndpointExists(id: string): Promise<boolean>;
  /** A blocked card's fingerprint, its payment method replaced or detached or not (block-card-reads.ts); a stand-in may lack it. */
  cardFingerprint?(paymentMethodId: string): Promise<BlockCardRead>;
}

/** The key of attempt n of the invoice whose stored key is `key` (for rows from before 006, its id). */
export const attemptKey = (key: string, attempt: number) => `${key}:attempt:${attempt}`;

/**
 * A gateway's 5xx, as answerOfError writes its code. Stripe keeps a 5xx under its
 * idempotency key like any answer, and gives it to every retry for a day.
 */
export const isServerErrorCode = (code: string | null | undefined): boolean => /\(HTTP 5\d\d\)$/.test(code ?? '');

/**
 * Events invoicing's endpoint is registered for (payment_failed: a cardholder's payment the bank declined after
 * 3-D Secure; the dispute events: a chargeback's money withdrawn and given back, disputes.ts).
 */
export const WEBHOOK_EVENTS = [
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'charge.refunded',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
] as const;

export function chargeGateway(stripe: Gateway): ChargeGateway {
  const origin = gatewayOrigin(stripe);
  return {
    cardFingerprint: (paymentMethodId) => readBlockedCard(stripe, paymentMethodId),

    async createPaymentIntent(p) {
      try {
        const pi = await stripe.paymentIntents.create(
          {
            amount: p.amount,
            currency: p.currency.toLowerCase(),
            customer: p.customerId,
            // Cards only, never a redirect: Stripe's default (redirects allowed)
            // refuses an off-session confirm that has no return_url.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            description: `Invoice ${p.number}`,
            metadata: { invoice_id: p.invoiceId, account_id: p.accountId, number: p.number },
          },
          { idempotencyKey: p.idempotencyKey },
        );
        return { id: pi.id };
      } catch (err) {
        return { error: answerOfError(err, origin) };
      }
    },

    async retrievePaymentIntent(id) {
      try {
        // Its charge expanded: refunds made before the payment was ours to record (refunds.ts) come with it.
        const pi = await stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] });
        const charge = typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
        const method = typeof pi.payment_method === 'string' ? pi.payment_method : (pi.payment_method?.id ?? null);
        const failure = pi.last_payment_error;
        return {
          id: pi.id,
          status: pi.status,
          amount: pi.amount_received || pi.amount,
          currency: pi.currency,
          paymentMethodId: method,
          lastError: failure
            ? {
                code: failure.code ?? failure.type,
                declineCode: failure.decline_code ?? null,
                message: failure.message ?? '',
                paymentMethodId: failure.payment_method?.id ?? null,
              }
            : undefined,
          charge: charge ? { id: charge.id, amount_refunded: charge.amount_refunded, currency: charge.currency } : undefined,
          disputed: charge?.disputed ?? false,
        };
      } catch (err) {
        return { error: answerOfError(err, origin) };
      }
    },

    async confirm(c) {
      try {
        const pi = await stripe.paymentIntents.confirm(
          c.paymentIntentId,
          { payment_method: c.paymentMethodId, off_session: true },
          { idempotencyKey: attemptKey(c.idempotencyKey, c.attempt) },
        );
        if (pi.status === 'succeeded') return { kind: 'succeeded', payment: paymentOf(pi) };
        if (pi.status === 'requires_action') {
          return { kind: 'action_required', code: 'requires_action', message: 'the payment needs the cardholder to authenticate' };
        }
        // Not a card's answer (e.g. processing): nothing to count; the same key
        // gives the same answer, and payment_intent.succeeded settles it if it comes.
        return { kind: 'unanswered', code: `payment_intent_${pi.status}`, message: `the PaymentIntent is ${pi.status}` };
      } catch (err) {
        return answerOfError(err, origin);
      }
    },

    async listDisputes(paymentIntentId) {
      try {
        // A charge has at most one dispute, and a PaymentIntent one succeeded charge: one page is all of them.
        const page = await stripe.disputes.list({ payment_intent: paymentIntentId, limit: 100 });
        return page.data.map((d) => ({
          id: d.id,
          paymentIntentId: typeof d.payment_intent === 'string' ? d.payment_intent : (d.payment_intent?.id ?? null),
          amount: d.amount,
          currency: d.currency,
          status: d.status,
          refundable: d.is_charge_refundable,
        }));
      } catch (err) {
        return { error: answerOfError(err, origin) };
      }
    },

    async cancelPaymentIntent(id) {
      // No idempotency key: a stored refusal (a page's payment in flight) would be answered for a
      // day; canceling again is harmless, and answers as below.
      try {
        await stripe.paymentIntents.cancel(id);
        return 'canceled';
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeError)) throw err;
        // Canceled already (a pass before, the dashboard) is what was asked; succeeded, it was paid.
        const status = err.code === 'payment_intent_unexpected_state' ? err.payment_intent?.status : undefined;
        if (status === 'canceled') return 'canceled';
        if (status === 'succeeded') return 'succeeded';
        return { error: err.code ?? err.type };
      }
    },

    async registerWebhookEndpoint(url, key) {
      // Events at the API version our SDK reads: without it Stripe sends the account's default, whose shapes may differ.
      const endpoint = await stripe.webhookEndpoints.create(
        // The key in its metadata: after a 500 under it, what that registration made is found and dropped.
        { url, enabled_events: [...WEBHOOK_EVENTS], api_version: Stripe.API_VERSION, metadata: { [REGISTRATION_KEY]: key } },
        { idempotencyKey: key },
      );
      if (!endpoint.secret) throw new Error(`the gateway registered webhook endpoint ${endpoint.id} without a secret`);
      return { id: endpoint.id, secret: endpoint.secret };
    },

    dropEndpointsRegisteredUnder: (url, key) => dropEndpointsRegisteredUnder(stripe, url, key),

    paymentIntentCreatedUnder: (invoiceId, key) =>
      createdUnderKey(stripe, 'payment_intent.created', key, (pi) => pi.metadata?.invoice_id === invoiceId),

    async webhookEndpointExists(id) {
      try {
        const endpoint = await stripe.webhookEndpoints.retrieve(id);
        const enabled = new Set(endpoint.enabled_events);
        const missing = !enabled.has('*') && WEBHOOK_EVENTS.some((e) => !enabled.has(e));
        // Stripe disables an endpoint that kept failing: payments confirmed by cardholders would go unheard.
        const disabled = endpoint.status === 'disabled';
        if (missing || disabled) {
          await stripe.webhookEndpoints.update(id, {
            ...(missing ? { enabled_events: [...new Set([...enabled, ...WEBHOOK_EVENTS])] as (typeof WEBHOOK_EVENTS)[number][] } : {}),
            ...(disabled ? { disabled: false } : {}),
          });
        }
        return true;
      } catch (err) {
        if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) return false;
        throw err;
      }
    },
  };
}

/**
 * What a succeeded PaymentIntent received, as the gateway reports it: anyone with the account's keys can
 * change an unconfirmed PaymentIntent's amount or currency, so this, not what we asked for, is checked.
 */
function paymentOf(pi: { id: string; amount: number; amount_received?: number | null; currency: string }): ReportedPayment {
  return { id: pi.id, amount: pi.amount_received ?? pi.amount, currency: pi.currency };
}

export const AUTHENTICATION_REQUIRED = 'authentication_required';

/**
 * A card's error asking for its holder: 3-D Secure asked of an off-session
 * payment, or a bank's soft decline (`card_declined` with that decline code).
 */
export function asksForCardholder(error: { code: string | null | undefined; declineCode: string | null | undefined }): boolean {
  return error.code === AUTHENTICATION_REQUIRED || error.declineCode === AUTHENTICATION_REQUIRED;
}

/** A confirm refused because the invoice's PaymentIntent was canceled. */
export const PAYMENT_INTENT_CANCELED = 'payment_intent_canceled';

/** A confirm refused because the PaymentIntent allows redirects and the confirm has no return_url. */
export const PAYMENT_INTENT_NEEDS_RETURN_URL = 'payment_intent_needs_return_url';

/** Refusals that no confirm of that PaymentIntent can get past: the charger lets it go and makes another. */
export const UNUSABLE_PAYMENT_INTENT = new Set([PAYMENT_INTENT_CANCELED, PAYMENT_INTENT_NEEDS_RETURN_URL]);

/**
 * A gateway error as an Answer. 402 `authentication_required` asks for the
 * cardholder (action required); any other 402 is a card's decline; a 400 for a
 * PaymentIntent that already succeeded is a success (an earlier attempt's
 * answer was lost), for a processing one no answer, for a canceled one
 * PAYMENT_INTENT_CANCELED; other 400/404s are refusals that the same request would
 * get again; everything else (no connection, 401/403, 409 key in use, 429,
 * 5xx) is no answer: the same key goes again later (after a 5xx, which the
 * gateway keeps under the key, the charger reads the PaymentIntent and uses a
 * new one: charger.ts); with no connection its message names `origin` (the
 * client's GATEWAY_URL) and the network's cause. Anything not from the
 * gateway is a bug and is thrown.
 */
export function answerOfError(err: unknown, origin?: string): Answer {
  if (!(err instanceof Stripe.errors.StripeError)) throw err;
  const code = err.code ?? err.rawType ?? err.type;
  const message = err.message;
  const status = err.statusCode;
  // 3-D Secure asked of an off-session charge: the cardholder must confirm it, on a page of ours.
  if (status === 402 && asksForCardholder({ code: err.code, declineCode: err.decline_code })) {
    return { kind: 'action_required', code: AUTHENTICATION_REQUIRED, message };
  }
  if (status === 402) return { kind: 'declined', code, declineCode: err.decline_code ?? null, message };
  if ((status === 400 || status === 404) && code !== 'rate_limit') {
    // Paid by an attempt whose answer was lost, or on a page: what it received is checked before it pays (save-payment.ts).
    if (err.code === 'payment_intent_unexpected_state' && err.payment_intent?.status === 'succeeded') {
      return { kind: 'succeeded', payment: paymentOf(err.payment_intent), earlier: true };
    }
    // Processing: the payment may still succeed (its webhook or a later confirm says); not the card's answer.
    if (err.code === 'payment_intent_unexpected_state' && err.payment_intent?.status === 'processing') {
      return { kind: 'unanswered', code: PAYMENT_INTENT_PROCESSING, message };
    }
    // Canceled (in the gateway's dashboard, say): it can never be paid; the charger replaces it.
    if (err.code === 'payment_intent_unexpected_state' && err.payment_intent?.status === 'canceled') {
      return { kind: 'refused', code: PAYMENT_INTENT_CANCELED, message };
    }
    // Made before invoicing asked for no redirects (Stripe's default allows them): no off-session
    // confirm of it can ever succeed without a return_url; the charger replaces it too.
    if (err.param === 'return_url') return { kind: 'refused', code: PAYMENT_INTENT_NEEDS_RETURN_URL, message };
    return { kind: 'refused', code, message };
  }
  // No connection: where to, and what the network said (the SDK's message names only "Stripe").
  const cause = unreachableCause(err);
  const where = cause === undefined ? '' : ` (${origin ? `gateway ${origin}: ` : ''}${cause})`;
  return { kind: 'unanswered', code: status ? `${code} (HTTP ${status})` : code, message: `${message}${where}` };
}
