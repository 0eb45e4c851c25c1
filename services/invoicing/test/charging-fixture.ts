// Charging's test fixtures: a database with invoicing's schema and a stand-in
// for cc-forms' published view (exactly its columns, over a table of our own),
// finalized invoices written directly, and an in-memory gateway that keeps
// Stripe's promises that charging relies on (idempotency keys, one success
// per PaymentIntent).
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { type Gateway, gatewayClient } from '@vault/gateway';
import { createHttpApp, type Logger } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import type { CardTesting } from '../src/charging/card-testing.ts';
import type { Answer } from '../src/charging/decide.ts';
import {
  attemptKey,
  type ChargeGateway,
  type Confirm,
  type NewPaymentIntent,
  type ReportedDispute,
  type ReportedIntent,
} from '../src/charging/gateway-calls.ts';
import type { DisputeGateway } from '../src/charging/dispute-gateway.ts';
import { fixtureDisputes } from './dispute-fixture.ts';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';

export async function chargingDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase('charging');
  await ensureInvoicingSchema(db.pool);
  await db.pool.query(`
    create schema cc_forms;
    create table cc_forms.test_cards (
      account_id text primary key, customer_id text not null, payment_method_id text not null,
      brand text not null default 'visa', last4 text not null default '4242',
      exp_month int not null default 12, exp_year int not null default 2034,
      added_at timestamptz not null default now(), fingerprint text);
    create view cc_forms.cards_on_file as
      select account_id, customer_id, payment_method_id, brand, last4, exp_month, exp_year, added_at, fingerprint from cc_forms.test_cards;`);
  return db;
}

let numbers = 0;

/** A finalized invoice (status as given), written as finalize writes it, without lines. */
export async function insertInvoice(pool: pg.Pool, i: { id: string; account: string; total: string; status?: string }): Promise<void> {
  numbers += 1;
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
     values ($1, $2, '2026-10', '2026-10-01Z', '2026-11-01Z', $3, $4, 'USD', $5)`,
    [i.id, i.account, `2026-10-${String(numbers).padStart(6, '0')}`, i.status ?? 'finalized', i.total],
  );
}

/** An invoice (paid unless said) whose charge row holds the PaymentIntent `pi_<id>`: what a webhook about it is matched to. */
export async function chargedThrough(pool: pg.Pool, id: string, total: string, status = 'paid'): Promise<void> {
  await insertInvoice(pool, { id, account: `acct-${id}`, total, status });
  await pool.query(`insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts) values ($1, $2, $3, 1)`, [
    id,
    `pi_${id}`,
    status === 'paid' ? 'paid' : 'past_due',
  ]);
}

/** Signs as the gateway does; never calls it. */
const signer = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' }).webhooks;

export { disputeEvent, disputeMade, fixtureDisputes } from './dispute-fixture.ts';

/** `event` posted to the webhook route as the gateway delivers it, signed with the endpoint's `secret`. */
export function deliverSigned(http: FastifyInstance, event: object, secret: string) {
  const payload = JSON.stringify(event);
  return http.inject({
    method: 'POST',
    url: '/v1/gateway/webhooks',
    headers: { 'content-type': 'application/json', 'stripe-signature': signer.generateTestHeaderString({ payload, secret }) },
    payload,
  });
}

/**
 * payment_intent.payment_failed of `pi` naming invoice `invoiceId`: card `pm` declined on it, as the gateway
 * sends a card tester's decline; `declineCode` null leaves decline_code out.
 */
export function foreignDeclineEvent(id: string, pi: string, invoiceId: string, pm: string, declineCode: string | null = 'generic_decline') {
  const error = { type: 'card_error', code: 'card_declined', ...(declineCode === null ? {} : { decline_code: declineCode }) };
  return {
    id,
    object: 'event',
    type: 'payment_intent.payment_failed',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: pi,
        object: 'payment_intent',
        status: 'requires_payment_method',
        amount: 5258,
        currency: 'usd',
        metadata: { invoice_id: invoiceId },
        last_payment_error: { ...error, message: 'Declined.', payment_method: { id: pm } },
      },
    },
  };
}

/** The account's card on file (replacing any), as cc-forms stores it. */
export async function putCard(pool: pg.Pool, account: string, pm: string, customer = `cus_${account}`): Promise<void> {
  await pool.query(
    `insert into cc_forms.test_cards (account_id, customer_id, payment_method_id) values ($1, $2, $3)
     on conflict (account_id) do update set customer_id = excluded.customer_id, payment_method_id = excluded.payment_method_id, added_at = now()`,
    [account, customer, pm],
  );
}

/** A finalized November invoice of `account` for 20.00 USD, numbered after its id. */
export async function novemberInvoice(pool: pg.Pool, id: string, account: string): Promise<void> {
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, status, currency, total)
     values ($1, $2, '2026-11', '2026-11-01Z', '2026-12-01Z', $3, 'finalized', 'USD', '20.00')`,
    [id, account, `2026-11-${id}`],
  );
}

/** `account`'s card on file `pm`, with the card's fingerprint `fp` as cc-forms stores it. */
export async function putFingerprintedCard(pool: pg.Pool, account: string, pm: string, fp: string): Promise<void> {
  await putCard(pool, account, pm);
  await pool.query('update cc_forms.test_cards set fingerprint = $2 where account_id = $1', [account, fp]);
}

export async function statusOf(pool: pg.Pool, invoiceId: string): Promise<string> {
  const { rows } = await pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [invoiceId]);
  return rows[0]!.status;
}

export async function chargeRow(pool: pg.Pool, invoiceId: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await pool.query('select * from invoicing.charges where invoice_id = $1', [invoiceId]);
  return rows[0];
}

let fakeIds = 0;

interface FakeIntent {
  id: string;
  invoiceId: string;
  amount: number;
  customerId: string;
  status: 'requires_payment_method' | 'processing' | 'succeeded' | 'canceled';
  lastError?: ReportedIntent['lastError'];
  /** Lower case, as Stripe writes it; usd unless updated. */
  currency?: string;
  /** Minor units refunded from its charge so far (refundedAtGateway). */
  amountRefunded?: number;
  /** Its charge's disputes (disputedAtGateway). */
  disputes?: ReportedDispute[];
}

/**
 * The gateway in memory. Payment methods named `pm_ok*` succeed, `pm_decline*`
 * are declined, `pm_processing*` leave the PaymentIntent processing (settled by
 * processingEnds). `down` answers nothing; `loseAnswers` executes the request and
 * then loses its answer (a crash or a cut connection after the gateway acted).
 */
export class FakeGateway implements ChargeGateway {
  intents = new Map<string, FakeIntent>();
  /** Every charge made: one per confirm that executed. */
  charges: { intent: string; paymentMethod: string; ok: boolean }[] = [];
  /** Every request sent, named by invoice: its id for a create, `<invoice id>:attempt:<n>` for a confirm. */
  sent: string[] = [];
  /** The idempotency key of every request sent, in order: what the answers are kept by. */
  keys: string[] = [];
  down = false;
  loseAnswers = false;
  /** Confirms execute, then the process dies before their answer is recorded (creates answered). */
  crashConfirms = false;
  /** A refusal every new create is answered with (kept under its key, as the gateway keeps it). */
  refuseCreates: Answer | undefined;
  /**
   * New confirms are answered a 500, kept under their key as Stripe keeps it for a day: having
   * done nothing (`'before'`), or after the charge went through (`'after'`).
   */
  serverErrors: 'before' | 'after' | undefined;
  /** Run as each create or confirm arrives, before it is answered: what happens elsewhere meanwhile. */
  beforeSend: ((invoiceId: string) => Promise<void>) | undefined;
  /** Every PaymentIntent id retrieved, in order. */
  retrieved: string[] = [];

  private answers = new Map<string, unknown>();

  private unanswered(): Answer {
    return { kind: 'unanswered', code: 'StripeConnectionError', message: 'no answer' };
  }

  async createPaymentIntent(p: NewPaymentIntent): Promise<{ id: string } | { error: Answer }> {
    await this.beforeSend?.(p.invoiceId);
    this.sent.push(p.invoiceId);
    this.keys.push(p.idempotencyKey);
    if (this.down) return { error: this.unanswered() };
    let answer = this.answers.get(p.idempotencyKey) as { id: string } | { error: Answer } | undefined;
    if (!answer && this.refuseCreates) {
      answer = { error: this.refuseCreates };
      this.answers.set(p.idempotencyKey, answer);
    }
    if (!answer) {
      const id = `pi_${++fakeIds}`;
      this.intents.set(id, { id, invoiceId: p.invoiceId, amount: p.amount, customerId: p.customerId, status: 'requires_payment_method' });
      answer = { id };
      this.answers.set(p.idempotencyKey, answer);
    }
    return this.loseAnswers ? { error: this.unanswered() } : answer;
  }

  async confirm(c: Confirm): Promise<Answer> {
    await this.beforeSend?.(c.invoiceId);
    const key = attemptKey(c.idempotencyKey, c.attempt);
    this.sent.push(attemptKey(c.invoiceId, c.attempt));
    this.keys.push(key);
    if (this.down) return this.unanswered();
    let answer = this.answers.get(key) as Answer | undefined;
    if (!answer && this.serverErrors) {
      if (this.serverErrors === 'after') this.execute(c);
      answer = { kind: 'unanswered', code: 'api_error (HTTP 500)', message: 'An unknown error occurred' };
      this.answers.set(key, answer);
    }
    if (!answer) {
      answer = this.execute(c);
      this.answers.set(key, answer);
    }
    if (this.crashConfirms) throw new Error('killed after the confirm was sent');
    return this.loseAnswers ? this.unanswered() : answer;
  }

  private execute(c: Confirm): Answer {
    const intent = this.intents.get(c.paymentIntentId);
    if (!intent) return { kind: 'refused', code: 'resource_missing', message: `No such payment_intent: '${c.paymentIntentId}'` };
    // payment_intent_unexpected_state carrying a succeeded PaymentIntent.
    if (intent.status === 'succeeded') return { kind: 'succeeded', payment: this.received(intent), earlier: true };
    if (intent.status === 'canceled') return { kind: 'refused', code: 'payment_intent_canceled', message: 'canceled' };
    if (c.paymentMethodId.startsWith('pm_processing')) {
      intent.status = 'processing';
      return { kind: 'unanswered', code: 'payment_intent_processing', message: 'the PaymentIntent is processing' };
    }
    const ok = c.paymentMethodId.startsWith('pm_ok');
    this.charges.push({ intent: intent.id, paymentMethod: c.paymentMethodId, ok });
    if (!ok) {
      // As Stripe: the decline stays the PaymentIntent's last error until its next confirm.
      const message = 'Your card was declined.';
      intent.lastError = { code: 'card_declined', declineCode: 'generic_decline', message, paymentMethodId: c.paymentMethodId };
      return { kind: 'declined', code: 'card_declined', declineCode: 'generic_decline', message };
    }
    intent.lastError = undefined;
    intent.status = 'succeeded';
    return { kind: 'succeeded', payment: this.received(intent) };
  }

  private received(intent: FakeIntent) {
    return { id: intent.id, amount: intent.amount, currency: intent.currency ?? 'usd' };
  }

  async cancelPaymentIntent(id: string): Promise<'canceled' | 'succeeded' | { error: string }> {
    if (this.down) return { error: 'StripeConnectionError' };
    const intent = this.intents.get(id);
    if (!intent) return { error: 'resource_missing' };
    if (intent.status === 'succeeded') return 'succeeded';
    if (intent.status === 'processing') return { error: 'payment_intent_unexpected_state' };
    intent.status = 'canceled';
    return 'canceled';
  }

  async retrievePaymentIntent(id: string): Promise<ReportedIntent | { error: Answer }> {
    this.retrieved.push(id);
    if (this.down) return { error: this.unanswered() };
    const intent = this.intents.get(id);
    if (!intent) return { error: { kind: 'refused', code: 'resource_missing', message: `No such payment_intent: '${id}'` } };
    const charge =
      intent.status === 'succeeded'
        ? { id: `ch_${id}`, amount_refunded: intent.amountRefunded ?? 0, currency: intent.currency ?? 'usd' }
        : undefined;
    return {
      id,
      status: intent.status,
      amount: intent.amount,
      currency: intent.currency ?? 'usd',
      paymentMethodId: null,
      lastError: intent.lastError,
      charge,
      disputed: (intent.disputes?.length ?? 0) > 0,
    };
  }

  /** Every PaymentIntent whose disputes were listed, in order. */
  disputesListed: string[] = [];
  async listDisputes(id: string): Promise<ReportedDispute[] | { error: Answer }> {
    this.disputesListed.push(id);
    if (this.down) return { error: this.unanswered() };
    return (this.intents.get(id)?.disputes ?? []).map((d) => ({ ...d }));
  }

  /** The cardholder's bank disputes `amount` minor units of the PaymentIntent's charge; `status` moves it on (the same id). */
  disputedAtGateway(id: string, dispute: string, amount: number, status: string): void {
    const intent = this.intents.get(id)!;
    if (intent.status !== 'succeeded') throw new Error(`${id} is ${intent.status}: nothing to dispute`);
    const others = (intent.disputes ?? []).filter((d) => d.id !== dispute);
    intent.disputes = [...others, { id: dispute, paymentIntentId: id, amount, currency: intent.currency ?? 'usd', status }];
  }

  /**
   * Someone holding the account's keys updates the unconfirmed PaymentIntent (Stripe allows its amount
   * and currency to change until it is confirmed); the next confirm charges what it says then.
   */
  updatedAtGateway(id: string, change: { amount?: number; currency?: string }): void {
    const intent = this.intents.get(id)!;
    if (intent.status === 'succeeded' || intent.status === 'processing') throw new Error(`${id} is ${intent.status}: no update`);
    Object.assign(intent, change);
  }

  /** A refund of the PaymentIntent's charge at the gateway (its dashboard): `amount` more minor units (its webhook is the test's to deliver). */
  refundedAtGateway(id: string, amount: number): void {
    const intent = this.intents.get(id)!;
    if (intent.status !== 'succeeded') throw new Error(`${id} is ${intent.status}: nothing to refund`);
    intent.amountRefunded = (intent.amountRefunded ?? 0) + amount;
  }

  /** A processing payment ends: it succeeds, fails as the bank said for `card` (no webhook is delivered), or is canceled. */
  processingEnds(id: string, outcome: 'succeeded' | 'canceled' | { failedWith: string; declineCode?: string }): void {
    const intent = this.intents.get(id)!;
    if (outcome === 'succeeded' || outcome === 'canceled') intent.status = outcome;
    else {
      intent.status = 'requires_payment_method';
      const declineCode = outcome.declineCode ?? 'insufficient_funds';
      intent.lastError = {
        code: 'card_declined',
        declineCode,
        message: declineCode === 'insufficient_funds' ? 'Your card has insufficient funds.' : `Your card was declined (${declineCode}).`,
        paymentMethodId: outcome.failedWith,
      };
    }
  }

  /** The cardholder confirms the PaymentIntent on our page, after 3-D Secure (its webhook not delivered). */
  confirmedByCardholder(id: string): void {
    this.intents.get(id)!.status = 'succeeded';
  }

  async registerWebhookEndpoint(_url: string, key: string) {
    this.sent.push(key);
    let answer = this.answers.get(key) as { id: string; secret: string } | undefined;
    if (!answer) {
      answer = { id: `we_${++fakeIds}`, secret: `whsec_${key}` };
      this.answers.set(key, answer);
      this.endpoints.add(answer.id);
    }
    if (this.loseAnswers) throw new Error('no answer');
    return answer;
  }

  endpoints = new Set<string>();
  async webhookEndpointExists(id: string) {
    return this.endpoints.has(id);
  }

  succeededCharges(invoiceId: string): number {
    return this.charges.filter((c) => c.ok && this.intents.get(c.intent)?.invoiceId === invoiceId).length;
  }
}

/** The in-memory gateway where a confirm with a payment method named pm_3ds* asks for the cardholder (3-D Secure). */
export class ThreeDsGateway extends FakeGateway {
  override async confirm(c: Confirm): Promise<Answer> {
    if (!c.paymentMethodId.startsWith('pm_3ds')) return super.confirm(c);
    this.sent.push(attemptKey(c.invoiceId, c.attempt));
    return { kind: 'action_required', code: 'authentication_required', message: 'This transaction requires authentication.' };
  }
}

type WebhookAppOptions = { log: Logger; verifier: Gateway['webhooks']; secret: string; adminToken: string } & {
  disputes?: DisputeGateway;
  /** As the app gives it (none: the default limit, no gateway to cancel at). */
  cardTesting?: CardTesting;
};

/** Invoicing's routes on `pool`, the gateway's deliveries verified with `secret`: what the webhook tests post to. */
export async function webhookApp(pool: pg.Pool, o: WebhookAppOptions): Promise<FastifyInstance> {
  const prices = loadPriceBook();
  const billing = createBilling({ pool, prices, graceHours: 72 });
  const http = createHttpApp(o.log);
  invoicingRoutes(http, {
    pool,
    billing,
    prices,
    adminToken: o.adminToken,
    log: o.log,
    webhooks: { verifier: o.verifier, secret: o.secret, disputes: o.disputes ?? fixtureDisputes(pool), cardTesting: o.cardTesting },
  });
  await http.ready();
  return http;
}
