// Issue 15 (high): a stray payment never marks an invoice paid. The attack as
// the review made it, against the real sandbox and the invoicing app: a
// PaymentIntent of 0.50 USD with no customer, whose metadata names a past-due
// invoice of 214.16, succeeds at the gateway and its signed webhook reaches
// invoicing. Then the invoice's own payment, for its amount, pays it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { chargingWorld, insertInvoice, putCard, statuses, type ChargingWorld } from './charging-harness.ts';

describe("a payment that is not the invoice's own (real sandbox and invoicing app)", () => {
  let w: ChargingWorld;
  let app: RunningService;

  before(async () => {
    w = await chargingWorld('webhook_trust');
    const port = await freePort();
    app = await startService('invoicing', {
      DATABASE_URL: w.db.url,
      GATEWAY_PORT: String(w.gatewayPort),
      INVOICING_PORT: String(port),
      HOST: '127.0.0.1',
      PAYMENT_RETRY_SCHEDULE: 'PT0.2S',
      CHARGE_EVERY_SECONDS: '0.2',
      ADMIN_TOKEN: 'admin-token-webhook-trust-0123456789abcdef',
    });
    // A card that is always declined: charging makes its PaymentIntent, then the invoice past_due.
    await putCard(w, 'acct-trust', '4000000000000341');
    await insertInvoice(w.db.pool, { id: 'trust-target', account: 'acct-trust', total: '214.16' });
    await eventually('past_due', async () => (await statuses(w.db.pool))['trust-target'] === 'past_due');
    const declined = await w.db.pool.query(`select 1 from gateway_sandbox.charges where status = 'failed'`);
    assert.equal(declined.rowCount, 2, 'the first attempt and its one retry were declined');
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  const stray = async (amount: number) => {
    const pi = await w.sdk.paymentIntents.create({
      amount,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      // Stripe's test PaymentMethod: a server sends no card number.
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { invoice_id: 'trust-target' },
    });
    assert.equal(pi.status, 'succeeded', 'the gateway took the payment');
    return pi.id;
  };

  test('0.50 USD, and then 214.16 USD, from PaymentIntents naming the invoice: logged as stray, the invoice stays past_due', async () => {
    for (const amount of [50, 21416]) {
      const id = await stray(amount);
      await eventually(`the webhook for ${id} handled`, () => app.lines.some((l) => l.includes(`payment_intent=${id}`)));
      const line = app.lines.find((l) => l.includes(`payment_intent=${id}`))!;
      assert.match(line, /at=warn event=webhook\.received .*outcome=stray reason=not_its_payment_intent invoice_id=trust-target/);
      assert.match(line, /count#webhooks\.stray=1/);
    }
    assert.equal((await statuses(w.db.pool))['trust-target'], 'past_due');
  });

  test("the invoice's own PaymentIntent, once a card is added, pays it exactly once", async () => {
    await putCard(w, 'acct-trust', '4242424242424242');
    await eventually('paid', async () => (await statuses(w.db.pool))['trust-target'] === 'paid');
    const own = (
      await w.db.pool.query<{ payment_intent_id: string }>(
        `select payment_intent_id from invoicing.charges where invoice_id = 'trust-target'`,
      )
    ).rows[0]!;
    await eventually('its webhook handled', () =>
      app.lines.some(
        (l) => l.includes('event=webhook.received') && l.includes('type=payment_intent.succeeded') && !l.includes('outcome=stray'),
      ),
    );
    const succeeded = await w.db.pool.query(`select 1 from gateway_sandbox.charges where payment_intent = $1 and status = 'succeeded'`, [
      own.payment_intent_id,
    ]);
    assert.equal(succeeded.rowCount, 1);
  });
});
