import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { z } from 'zod';
import { withTransaction } from '@vault/db';
import type { Gateway } from '@vault/gateway';
import type { Logger } from '@vault/runtime';
import { afterForeignDecline, type CardTesting, countForeignDecline, DEFAULT_CARD_TESTING, foreignFields } from './card-testing.ts';
import type { DisputeGateway } from './dispute-gateway.ts';
import { handleDispute, isDisputeMovement } from './disputes.ts';
import { paysInvoice, type ReportedPayment } from './payment-match.ts';
import { FailedIntent, recordPaymentFailure } from './payment-failed.ts';
import { heldPaymentIntent, invoiceOfPaymentIntent, recordRefund, RefundedCharge } from './refunds.ts';
import { warnIfLateCredited } from './refund-after-late-credit.ts';
import { endpointSecretsCache } from './endpoint-store.ts';
import { letGoOf, mayBeLetGo } from './let-go-intent.ts';
import { holdStray } from './hold-stray.ts';
import { logStray, type StrayReason } from './save-payment.ts';
import { invoiceThatHeld, releasedStrayEvent } from './stray-released-event.ts';
import { lockInvoiceForPayment, markInvoicePaid, recordEvent } from './store.ts';

/** The part of a gateway event invoicing reads; the rest is ignored. */
export const GatewayEvent = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  /** When the gateway made the event (Unix seconds): how long a refund may wait for its payment. */
  created: z.number().int().optional(),
  data: z.object({ object: z.unknown() }),
});

/** `payment_intent.succeeded`'s object: the invoice is in the metadata charging gave it (checked against our records). */
const SucceededIntent = z.object({
  id: z.string().min(1),
  object: z.literal('payment_intent'),
  status: z.literal('succeeded'),
  amount: z.number().int(),
  amount_received: z.number().int().optional(),
  currency: z.string().min(1),
  /** The card that paid (the customer may have confirmed it on-session, after 3-D Secure). */
  payment_method: z.string().nullable().optional(),
  metadata: z.object({ invoice_id: z.string().min(1).optional() }).catchall(z.string()),
});

/** How far a delivery's signed timestamp may be from our clock, either way (Stripe's own tolerance, in seconds). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * The signed timestamp (`t=`) of a Stripe-Signature header, in seconds;
 * undefined without exactly one. The route checks it both ways itself
 * (constructEvent would refuse one too old as a bad signature, and does not
 * refuse one in the future, which could then be replayed for as long as it
 * likes). A header with two reads differently here and in the SDK (which
 * keeps the last), so it is refused rather than guessed at.
 */
export function signatureTimestamp(header: string): number | undefined {
  const stamps = header.split(',').filter((item) => item.split('=', 1)[0] === 't');
  if (stamps.length !== 1) return undefined;
  const value = stamps[0]!.slice(stamps[0]!.indexOf('=') + 1);
  return /^\d{1,12}$/.test(value) ? Number(value) : undefined;
}

export interface WebhookDeps {
  pool: pg.Pool;
  /** The SDK's webhooks helper (signature verification). */
  verifier: Gateway['webhooks'];
  /** GATEWAY_WEBHOOK_SECRET; unset: the secrets of the endpoints invoicing registered. */
  secret: string | undefined;
  log: Logger;
  /** The clock deliveries' timestamps are checked against (tests); default Date.now. */
  now?: () => number;
  /**
   * Where a fraudulent chargeback's card is read (dispute-block.ts); the app always has it. Without it
   * (or when it fails) the card our charge row says paid is blocked instead.
   */
  disputes?: DisputeGateway | undefined;
  /** Other cards' declines on an invoice's payment page (card-testing.ts); unset: the default limit, canceled by the next pass. */
  cardTesting?: CardTesting | undefined;
}

/** What handling an event needs (the route checks a delivery's signature and age before). */
export type EventHandlerDeps = Pick<WebhookDeps, 'pool' | 'log' | 'now' | 'disputes' | 'cardTesting'>;

/** Outcomes of an event not handled (nothing recorded): answered so the gateway delivers it again, and the catch-up lists it again. */
export const notHandled = (outcome: { outcome: string }) => outcome.outcome === 'before_payment';

/**
 * `POST /v1/gateway/webhooks`: the gateway's deliveries, authenticated by
 * their signature (not a bearer token) over the exact bytes received, so this
 * plugin alone reads JSON bodies raw. payment_intent.succeeded marks the
 * invoice paid, payment_intent.payment_failed records a decline or failed check
 * while it waits for the cardholder (payment-failed.ts); every event is recorded
 * by id, so a redelivery does nothing and still answers 200.
 */
export function gatewayWebhookRoutes(http: FastifyInstance, deps: WebhookDeps): void {
  // Read per route, not per delivery: an unsigned POST costs no query (endpoint-store.ts).
  const stored = endpointSecretsCache(deps.pool);
  void http.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    scope.post('/v1/gateway/webhooks', { config: { bearer: false } }, async (req, reply) => {
      const signature = req.headers['stripe-signature'];
      if (typeof signature !== 'string' || !Buffer.isBuffer(req.body)) {
        return reply.code(400).send({ error: 'expected a JSON body with a Stripe-Signature header' });
      }
      const secrets = deps.secret ? [deps.secret] : await stored.current();
      if (secrets.length === 0) {
        // The gateway retries: by then the endpoint's registration has stored its secret.
        return reply.code(503).send({ error: 'the webhook endpoint is not registered yet' });
      }
      let verified = verify(deps.verifier, req.body, signature, secrets);
      if (!verified && !deps.secret) {
        const again = await stored.afterMismatch();
        if (again) verified = verify(deps.verifier, req.body, signature, again);
      }
      if (!verified) {
        deps.log.warn('webhook.rejected', { reason: 'signature', 'count#webhooks.rejected': 1 });
        return reply.code(400).send({ error: 'the signature does not match the body' });
      }
      // Signed: now its age, either way, told as our clock's difference (a late one is not a bad signature).
      const signedAt = signatureTimestamp(signature);
      const skew = signedAt === undefined ? undefined : signedAt - Math.floor(nowMs(deps) / 1000);
      if (skew === undefined || Math.abs(skew) > WEBHOOK_TOLERANCE_SECONDS) {
        deps.log.warn('webhook.rejected', { reason: 'timestamp', skew_s: skew ?? 'none', 'count#webhooks.rejected': 1 });
        const why =
          skew === undefined
            ? 'has no single timestamp (t=)'
            : `is dated ${skew > 0 ? `${skew} s ahead of` : `${-skew} s behind`} our clock`;
        return reply.code(400).send({ error: `the signature ${why}; at most ${WEBHOOK_TOLERANCE_SECONDS} s either way` });
      }
      const event = GatewayEvent.safeParse(verified);
      if (!event.success) {
        const issue = event.error.issues[0];
        return reply.code(400).send({ error: `${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}` });
      }
      const outcome = await handleGatewayEvent(deps, event.data);
      if (outcome.outcome === 'before_payment') {
        // Not recorded: answered as a failure, so the gateway delivers it again once the payment is in.
        deps.log.warn('webhook.retry_later', { event_id: event.data.id, type: event.data.type, invoice_id: outcome.invoice_id });
        return reply.code(409).send({ error: "the event's payment is not recorded on its invoice yet; deliver it again later" });
      }
      const fields = { event_id: event.data.id, type: event.data.type, ...outcome, 'count#webhooks.received': 1 };
      // A payment that is not the invoice's own is answered 200 (the gateway must not retry it) and told to operators.
      if (outcome.outcome === 'stray') deps.log.warn('webhook.received', { ...fields, 'count#webhooks.stray': 1 });
      else deps.log.info('webhook.received', fields);
      return { received: true, duplicate: outcome.outcome === 'duplicate' };
    });
  });
}

function verify(webhooks: Gateway['webhooks'], body: Buffer, signature: string, secrets: string[]): unknown {
  for (const secret of secrets) {
    try {
      // Tolerance 0: the SDK's documented way to check the signature alone. With ours it would refuse a
      // correctly signed late delivery (our clock fast) as a mismatch; the route checks the age both ways.
      return webhooks.constructEvent(body, signature, secret, 0);
    } catch {
      // Another secret may match (an endpoint registered again); none: a bad signature.
    }
  }
  return undefined;
}

/**
 * Records the event and, for payment_intent.succeeded, marks its invoice paid
 * when the payment is the invoice's own (paysInvoice): one transaction, which
 * locks the invoice (when the event names one) before anything else, as every
 * transaction on an invoice does. Any other payment is recorded and ignored.
 * The webhook route's handler, and the catch-up's (event-catch-up.ts) for events fetched from the gateway.
 */
export async function handleGatewayEvent(deps: EventHandlerDeps, event: z.infer<typeof GatewayEvent>): Promise<Outcome> {
  if (event.type === 'charge.refunded') return handleRefund(deps, event);
  if (isDisputeMovement(event.type)) return handleDispute(deps, event);
  if (event.type === 'payment_intent.payment_failed') return handlePaymentFailed(deps, event);
  const intent = event.type === 'payment_intent.succeeded' ? SucceededIntent.safeParse(event.data.object) : undefined;
  const invoiceId = intent?.success ? intent.data.metadata.invoice_id : undefined;
  let held: (ReportedPayment & { reason: StrayReason }) | undefined;
  const outcome = await withTransaction(
    deps.pool,
    async (client): Promise<Outcome> => {
      held = undefined;
      const invoice = invoiceId ? await lockInvoiceForPayment(client, invoiceId) : undefined;
      if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
      if (!intent) return { outcome: 'ignored' };
      if (!intent.success || !invoiceId) return { outcome: 'not_an_invoice' };
      const { id, amount, amount_received, currency } = intent.data;
      const payment = { id, amount: amount_received ?? amount, currency };
      const verdict = paysInvoice(payment, invoice);
      if (!verdict.pays) {
        // A stray payment given back and let go already (its success delivered late): known, at info.
        const released = mayBeLetGo(verdict) ? await releasedStrayEvent(client, invoiceId, id) : undefined;
        if (released) return released;
        // Its own PaymentIntent, paid on our page for another amount or currency: held as the charger holds one.
        if (await holdStray(client, invoiceId, payment, verdict, new Date(nowMs(deps)))) held = { ...payment, reason: verdict.reason };
        return { outcome: 'stray', reason: verdict.reason, invoice_id: invoiceId, payment_intent: id, ...(held ? { held: true } : {}) };
      }
      // Dated when the gateway made the event (found by the catch-up, days after): the page's and the notice's day.
      const changed = await markInvoicePaid(client, invoiceId, id, {
        at: happenedAt(event),
        recordedAt: new Date(nowMs(deps)),
        paymentMethodId: intent.data.payment_method ?? null,
      });
      return { outcome: changed ? 'paid' : 'unchanged', invoice_id: invoiceId };
    },
    { log: deps.log, name: 'charging.webhook' },
  );
  if (held && invoiceId) logStray(deps.log, invoiceId, held, held.reason);
  return outcome;
}

/**
 * payment_intent.payment_failed: checked as a payment is (the invoice's own
 * PaymentIntent, its amount and currency), in one transaction that locks the
 * invoice first; the row changes only while it waits for that cardholder.
 * One of a PaymentIntent the row let go of (let-go-intent.ts) is `revoked` or
 * `let_go` (info), not `stray`; the row is not changed.
 */
async function handlePaymentFailed(deps: EventHandlerDeps, event: z.infer<typeof GatewayEvent>): Promise<Outcome> {
  const intent = FailedIntent.safeParse(event.data.object);
  const invoiceId = intent.success ? intent.data.metadata.invoice_id : undefined;
  const cardTesting = deps.cardTesting ?? DEFAULT_CARD_TESTING;
  let foreign: Awaited<ReturnType<typeof countForeignDecline>>;
  const outcome = await withTransaction(
    deps.pool,
    async (client): Promise<Outcome> => {
      foreign = undefined;
      const invoice = invoiceId ? await lockInvoiceForPayment(client, invoiceId) : undefined;
      if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
      if (!intent.success || !invoiceId) return { outcome: 'not_an_invoice' };
      const { id, amount, currency } = intent.data;
      const verdict = paysInvoice({ id, amount, currency }, invoice);
      const at = new Date(nowMs(deps));
      if (!verdict.pays) {
        // A PaymentIntent the row let go of (revoked for card testing, replaced): its late declines are expected.
        const gone = mayBeLetGo(verdict) ? await letGoOf(client, invoiceId, id) : undefined;
        if (!gone) return { outcome: 'stray', reason: verdict.reason, invoice_id: invoiceId, payment_intent: id };
        // Still another card tried on the invoice's page: counted, never revoked again (it is canceled).
        foreign = await countForeignDecline(client, invoiceId, intent.data, event, at, cardTesting.limit, true);
        return { outcome: gone, invoice_id: invoiceId, payment_intent: id, ...foreignFields(foreign) };
      }
      const recorded = await recordPaymentFailure(client, invoiceId, intent.data, event.created, at);
      // Another card than ours declined on its page: counted (card testing), its PaymentIntent revoked past the limit.
      foreign = await countForeignDecline(client, invoiceId, intent.data, event, at, cardTesting.limit);
      return { ...recorded, invoice_id: invoiceId, ...foreignFields(foreign) };
    },
    { log: deps.log, name: 'charging.payment_failed_webhook' },
  );
  if (foreign) await afterForeignDecline(deps, foreign);
  return outcome;
}

export type Outcome = {
  outcome: string;
  reason?: string;
  invoice_id?: string;
  payment_intent?: string;
  amount_refunded?: string;
  /** Chargebacks (disputes.ts): the dispute, and the invoice's amount disputed after it. */
  dispute_id?: string;
  amount_disputed?: string;
  /** A fraudulent chargeback's card blocked (its payment method). */
  card_blocked?: string;
  /** Another card's decline on the invoice's payment page (card-testing.ts): declines in the hour, the PaymentIntent revoked. */
  foreign_declines?: number;
  revoked?: string;
  /** A stray payment of the invoice's own PaymentIntent held on its charge row by this event (hold-stray.ts). */
  held?: boolean;
};

/**
 * charge.refunded: the refund recorded on the invoice the charge paid, in the transaction that records the event.
 * A refund of the stray payment the row holds is `stray_refunded` (info), of one it let go `stray_released`.
 */
async function handleRefund(deps: EventHandlerDeps, event: z.infer<typeof GatewayEvent>): Promise<Outcome> {
  const charge = RefundedCharge.safeParse(event.data.object);
  const paymentIntent = charge.success ? charge.data.payment_intent : null;
  // Read before the transaction: the invoice's lock must be its first.
  // The row's PaymentIntent, else one it let go of (a stray given back: its refund's event after the release).
  const invoiceId = paymentIntent
    ? ((await invoiceOfPaymentIntent(deps.pool, paymentIntent)) ?? (await invoiceThatHeld(deps.pool, paymentIntent)))
    : undefined;
  const outcome = await withTransaction(
    deps.pool,
    async (client): Promise<Outcome> => {
      if (!charge.success || !invoiceId) {
        // Still recorded, so a redelivery is a duplicate; a charge that paid no invoice of ours is told to operators.
        if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
        return charge.success
          ? { outcome: 'stray', reason: 'unknown_payment_intent', payment_intent: paymentIntent ?? 'none' }
          : { outcome: 'not_a_charge' };
      }
      await lockInvoiceForPayment(client, invoiceId);
      if (!(await recordEvent(client, event))) return { outcome: 'duplicate' };
      // Checked under the lock, as a dispute is: the row may have let this PaymentIntent go since it was
      // looked up (a stray released, another paying the invoice), and a stray one never pays it, so
      // its refund is not the invoice's and is not waited for.
      const held = await heldPaymentIntent(client, invoiceId);
      const stray = { outcome: 'stray', invoice_id: invoiceId, payment_intent: charge.data.payment_intent ?? 'none' };
      if (held.paymentIntentId !== charge.data.payment_intent) {
        const released = charge.data.payment_intent ? await releasedStrayEvent(client, invoiceId, charge.data.payment_intent) : undefined;
        return released ?? { ...stray, reason: 'not_its_payment_intent' };
      }
      // The stray it holds, given back (the operator's remedy, vault refund-stray or the dashboard; charge.stray
      // warned already): expected, at info. Not the invoice's refund; the next pass releases it once whole.
      if (held.stray) return { outcome: 'stray_refunded', invoice_id: invoiceId, payment_intent: charge.data.payment_intent ?? 'none' };
      const outcome = await recordRefund(client, invoiceId, charge.data, happenedAt(event) ?? new Date(nowMs(deps)));
      if (outcome.outcome !== 'before_payment') return outcome;
      // Rolled back, the event's record with it: its redelivery is handled, not taken for a
      // duplicate. For as long as a gateway retries (Stripe: three days); a payment that has
      // not come by then will not, and the refund is recorded as stray for operators.
      // An event without `created` keeps waiting: its age is unknown, not endless.
      const age = event.created === undefined ? 0 : nowMs(deps) / 1000 - event.created;
      if (age < REFUND_WAITS_SECONDS) throw new BeforePayment(outcome.invoice_id);
      return { outcome: 'stray', reason: 'not_paid', invoice_id: outcome.invoice_id };
    },
    { log: deps.log, name: 'charging.refund_webhook' },
  ).catch((err: unknown) => {
    if (err instanceof BeforePayment) return { outcome: 'before_payment', invoice_id: err.invoiceId };
    throw err;
  });
  // After the commit: a refund of a month already given late credits is for operators to settle.
  if ((outcome.outcome === 'refunded' || outcome.outcome === 'partly_refunded') && outcome.invoice_id)
    await warnIfLateCredited(deps, { event_id: event.id, invoice_id: outcome.invoice_id, by: 'refund' });
  return outcome;
}

/** How long after its event a refund may wait for its invoice's payment (Stripe retries for three days). */
const REFUND_WAITS_SECONDS = 3 * 86_400;

const nowMs = (deps: EventHandlerDeps) => deps.now?.() ?? Date.now();

/** When the gateway made the event (its `created`), if it says. */
const happenedAt = (event: z.infer<typeof GatewayEvent>) => (event.created === undefined ? undefined : new Date(event.created * 1000));

class BeforePayment extends Error {
  constructor(readonly invoiceId: string) {
    super(`invoice ${invoiceId} is not paid yet`);
  }
}
