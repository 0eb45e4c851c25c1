// End-to-end charging fixtures: one database holding invoicing's and
// cc-forms' schemas, the real gateway sandbox as a process, and cards put on
// file without a browser (the SDK with the publishable key, as the card iframe
// sends a number: the secret key's is refused, as on Stripe; then the row cc-forms would write), a card
// tester's confirm on the page's PaymentIntent, and a card blocked by a fraud chargeback.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type Stripe from 'stripe';
import { migrate } from '@vault/db';
import { gatewayClient, sandboxKeys, type Gateway } from '@vault/gateway';
import { freePort, freshDatabase, migrateApps, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import type { Logger } from '@vault/runtime';
import { handleGatewayEvent } from '../services/invoicing/src/charging/webhooks.ts';
import { ensureInvoicingSchema } from '../services/invoicing/src/cli/migrations.ts';

const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../services/cc-forms/migrations', import.meta.url));

export interface ChargingWorld {
  db: TestDatabase;
  sandbox: RunningService;
  gatewayPort: number;
  sdk: Gateway;
  close(): Promise<void>;
}

export async function chargingWorld(prefix: string, sandboxEnv: Record<string, string> = {}): Promise<ChargingWorld> {
  const db = await freshDatabase(prefix);
  // Metering's views first: invoicing reads them, and its process waits at boot until they are there.
  await migrateApps(db, 'metering');
  await ensureInvoicingSchema(db.pool);
  await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  const gatewayPort = await freePort();
  const sandbox = await startService('gateway-sandbox', {
    DATABASE_URL: db.url,
    GATEWAY_PORT: String(gatewayPort),
    HOST: '127.0.0.1',
    ...sandboxEnv,
  });
  // No keys configured: the sandbox generated its own, which the apps (and this SDK) read from its database.
  const sdk = gatewayClient({ url: new URL(sandbox.url), secretKey: (await sandboxKeys(db.pool)).secretKey });
  return {
    db,
    sandbox,
    gatewayPort,
    sdk,
    async close() {
      await sandbox.kill('SIGTERM');
      await db.drop();
    },
  };
}

let numbers = 0;

/** A finalized invoice, written as finalize writes it (no lines: charging reads only the total). */
export async function insertInvoice(pool: pg.Pool, i: { id: string; account: string; total: string; period?: string }): Promise<void> {
  numbers += 1;
  const period = i.period ?? '2026-10';
  await pool.query(
    `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total)
     values ($1, $2, $3, ($3 || '-01')::date, ($3 || '-01')::date + interval '1 month', $4, 'USD', $5)`,
    [i.id, i.account, period, `${period}-${String(numbers).padStart(6, '0')}`, i.total],
  );
}

/**
 * Puts a card on file for `account` as cc-forms does after a setup intent
 * succeeded: the gateway customer (made once per account), the payment
 * method attached to it, and the cards row with its brand, last4 and expiry.
 */
export async function putCard(w: ChargingWorld, account: string, number: string): Promise<string> {
  const known = await w.db.pool.query<{ customer_id: string }>('select customer_id from cc_forms.customers where account_id = $1', [
    account,
  ]);
  let customerId = known.rows[0]?.customer_id;
  if (!customerId) {
    const customer = await w.sdk.customers.create(
      { metadata: { account_id: account } },
      { idempotencyKey: `customer-${account}-${randomUUID()}` },
    );
    customerId = customer.id;
    await w.db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2) on conflict do nothing', [
      account,
      customerId,
    ]);
  }
  const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: (await sandboxKeys(w.db.pool)).publishableKey });
  const pm = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
  await w.sdk.paymentMethods.attach(pm.id, { customer: customerId });
  await w.db.pool.query(
    `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year)
     values ($1, $2, $3, 'seti_put_by_test', $4, $5, 12, 2034)
     on conflict (account_id) do update set payment_method_id = excluded.payment_method_id, brand = excluded.brand,
       last4 = excluded.last4, added_at = now()`,
    [account, customerId, pm.id, pm.card?.brand ?? 'visa', pm.card?.last4 ?? number.slice(-4)],
  );
  return pm.id;
}

export async function statuses(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ id: string; status: string }>('select id, status from invoicing.invoices order by id');
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

/** Every PaymentIntent the sandbox holds for the invoice (by its metadata), and their charges. */
export async function gatewayRecord(sdk: Gateway, customerId: string | undefined, invoiceId: string) {
  if (!customerId) return { intents: 0, succeeded: 0, failed: 0 };
  const intents = [];
  for await (const pi of sdk.paymentIntents.list({ customer: customerId, limit: 100 })) {
    if (pi.metadata?.invoice_id === invoiceId) intents.push(pi);
  }
  let succeeded = 0;
  let failed = 0;
  for (const pi of intents) {
    for await (const ch of sdk.charges.list({ payment_intent: pi.id, limit: 100 })) {
      if (ch.status === 'succeeded') succeeded++;
      if (ch.status === 'failed') failed++;
    }
  }
  return { intents: intents.length, succeeded, failed };
}

export async function customerOf(pool: pg.Pool, account: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ customer_id: string }>('select customer_id from cc_forms.customers where account_id = $1', [account]);
  return rows[0]?.customer_id;
}

/** The invoicing app of `w` on `port`, charging every 0.2 s with a 0.2 s retry schedule, `env` on top. */
export function startChargingInvoicing(
  w: ChargingWorld,
  port: number,
  admin: string,
  env: Record<string, string>,
): Promise<RunningService> {
  return startService('invoicing', {
    DATABASE_URL: w.db.url,
    GATEWAY_PORT: String(w.gatewayPort),
    INVOICING_PORT: String(port),
    HOST: '127.0.0.1',
    PAYMENT_RETRY_SCHEDULE: 'PT0.2S',
    CHARGE_EVERY_SECONDS: '0.2',
    ADMIN_TOKEN: admin,
    ...env,
  });
}

/**
 * The customer's page: the client secret fetched server-side with the stored PaymentIntent id, then
 * the gateway's JS confirms on-session with the publishable key and the cardholder completes (or fails) the challenge.
 */
export async function authenticate(
  w: ChargingWorld,
  paymentIntentId: string,
  pm: string,
  outcome: 'complete' | 'fail' = 'complete',
): Promise<void> {
  const intent = await w.sdk.paymentIntents.retrieve(paymentIntentId);
  const { publishableKey } = await sandboxKeys(w.db.pool);
  const confirmed = await fetch(`${w.sandbox.url}/v1/payment_intents/${intent.id}/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: publishableKey, client_secret: intent.client_secret!, payment_method: pm, use_stripe_sdk: 'true' }),
  });
  const body = (await confirmed.json()) as { status: string; next_action: { use_stripe_sdk: { stripe_js: string } } };
  assert.equal(body.status, 'requires_action', JSON.stringify(body));
  const challenge = body.next_action.use_stripe_sdk.stripe_js;
  assert.equal((await fetch(`${challenge}/${outcome}`, { method: 'POST', redirect: 'manual' })).status, 200);
}

/** The page's script, run by a tester: a new card (publishable key), then a confirm with the client secret. */
export async function confirmWithNewCard(w: ChargingWorld, paymentIntentId: string, clientSecret: string, number: string) {
  const { publishableKey } = await sandboxKeys(w.db.pool);
  const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: publishableKey });
  const pm = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
  const res = await fetch(`${w.sandbox.url}/v1/payment_intents/${paymentIntentId}/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: publishableKey, client_secret: clientSecret, payment_method: pm.id }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code?: string } }, paymentMethod: pm.id };
}

/** The invoice's status and its charge row's last error code and PaymentIntent (none without a row). */
export async function invoiceCharge(pool: pg.Pool, invoiceId: string) {
  const { rows } = await pool.query<{ status: string; code: string | null; pi: string | null }>(
    `select i.status, c.last_error_code as code, c.payment_intent_id as pi
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id where i.id = $1`,
    [invoiceId],
  );
  return rows[0];
}

/** The fraud blocks of payment method `pm`, by their fingerprint. */
export async function blockFingerprints(pool: pg.Pool, pm: string) {
  return (await pool.query('select fingerprint from invoicing.blocked_payment_methods where payment_method_id = $1', [pm])).rows;
}

/**
 * `account`'s card `number` (saved without a fingerprint, as before cc-forms' 007) pays `invoiceId` at `pass`,
 * is disputed as fraudulent (the sandbox's dispute card does that at once), and the withdrawal's event, handled
 * while the gateway would not say which card (a restricted key), blocks it by payment method alone.
 */
export async function fraudBlockedByPaymentMethod(
  w: ChargingWorld,
  o: { account: string; invoiceId: string; number: string; pass: () => Promise<unknown>; log: Logger },
) {
  const stolen = await putCard(w, o.account, o.number);
  await insertInvoice(w.db.pool, { id: o.invoiceId, account: o.account, total: '25.00' });
  await o.pass();
  assert.equal((await invoiceCharge(w.db.pool, o.invoiceId))?.status, 'paid');
  const dispute = (await w.sdk.disputes.list({ payment_intent: (await invoiceCharge(w.db.pool, o.invoiceId))!.pi! })).data[0];
  assert.equal(dispute?.reason, 'fraudulent');
  const event = (await w.sdk.events.list({ type: 'charge.dispute.funds_withdrawn', limit: 100 })).data.find(
    (e) => (e.data.object as Stripe.Dispute).id === dispute.id,
  );
  assert.ok(event);
  const refused = { disputedCharge: async () => ({ error: 'permission_error (HTTP 403)' }) };
  const outcome = await handleGatewayEvent({ pool: w.db.pool, log: o.log, disputes: refused }, event as never);
  assert.equal(outcome.card_blocked, stolen);
  assert.deepEqual(await blockFingerprints(w.db.pool, stolen), [{ fingerprint: null }]);
  return { stolen, dispute };
}
