// 3-D Secure in Chromium, as a customer meets it: a minimal card page of this
// test's own (the card form's origin) loads the sandbox's Stripe.js stand-in,
// saves a 4000 0027 6000 3184 card (confirmCardSetup shows the challenge), the
// off-session charge is refused with authentication_required, and the customer
// authenticates it with confirmCardPayment: paid once. Failing the challenge is an error.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { freePort } from '@vault/testkit';
import { PK, startSandbox, type Sandbox } from './harness.ts';

const CHALLENGE = 'iframe[title="3D Secure authentication"]';

describe('3-D Secure in Chromium through the Stripe.js stand-in', () => {
  let sb: Sandbox;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let pageUrl: string;

  before(async () => {
    const port = await freePort();
    pageUrl = `http://localhost:${port}`;
    sb = await startSandbox({ cardFormOrigin: pageUrl });
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay</title>
<script src="${sb.url}/v3/"></script></head><body><main><h1>Pay</h1><div id="card"></div></main></body></html>`;
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    page = await (await browser.newContext({ viewport: { width: 900, height: 800 } })).newPage();
    await page.goto(pageUrl);
  });
  after(async () => {
    await browser?.close();
    server?.close();
    await sb?.close();
  });

  /** Clicks a button of the challenge shown over the page, then waits for the frame to go. */
  async function answerChallenge(button: 'Complete authentication' | 'Fail authentication') {
    await page.frameLocator(CHALLENGE).getByRole('button', { name: button }).click();
    await page.locator(CHALLENGE).waitFor({ state: 'detached' });
  }

  test('a 3184 card saved and authenticated in the card fields, refused off-session, then paid once after the customer authenticates', async () => {
    const customer = await sb.stripe.customers.create({ email: 'sca@example.com' });
    const si = await sb.stripe.setupIntents.create({ customer: customer.id });
    await page.evaluate((pk) => {
      const w = window as any;
      w.stripe = w.Stripe(pk);
      w.card = w.stripe.elements().create('card');
      w.card.mount('#card');
    }, PK);
    const fields = page.frameLocator('iframe[title="Secure card payment input frame"]');
    await fields.getByLabel('Card number').fill('4000 0027 6000 3184');
    await fields.getByLabel(/Expiry/).fill('12 / 34');
    await fields.getByLabel('CVC').fill('123');
    const saving = page.evaluate(
      (secret) => (window as any).stripe.confirmCardSetup(secret, { payment_method: { card: (window as any).card } }),
      si.client_secret,
    );
    await answerChallenge('Complete authentication');
    const saved = await saving;
    assert.equal(saved.error, undefined, JSON.stringify(saved.error));
    assert.equal(saved.setupIntent.status, 'succeeded');
    const pmId = saved.setupIntent.payment_method as string;
    assert.equal((await sb.stripe.paymentMethods.retrieve(pmId)).customer, customer.id);

    const pi = await sb.stripe.paymentIntents.create({
      amount: 5258,
      currency: 'usd',
      allowed_payment_method_types: ['card'],
      customer: customer.id,
    });
    await assert.rejects(
      sb.stripe.paymentIntents.confirm(pi.id, { payment_method: pmId, off_session: true }),
      (err: any) => err instanceof Stripe.errors.StripeCardError && err.code === 'authentication_required',
    );

    const paying = page.evaluate(([secret, pm]) => (window as any).stripe.confirmCardPayment(secret, { payment_method: pm }), [
      pi.client_secret!,
      pmId,
    ] as const);
    await answerChallenge('Complete authentication');
    const paid = await paying;
    assert.equal(paid.error, undefined, JSON.stringify(paid.error));
    assert.equal(paid.paymentIntent.status, 'succeeded');
    const charges = await sb.stripe.charges.list({ payment_intent: pi.id });
    assert.deepEqual(
      charges.data.map((c) => c.status),
      ['succeeded', 'failed'],
    );
    const succeeded = await sb.stripe.events.list({ type: 'payment_intent.succeeded' });
    assert.equal(succeeded.data.filter((e) => (e.data.object as Stripe.PaymentIntent).id === pi.id).length, 1);
  });

  test('failing the challenge resolves confirmCardPayment with payment_intent_authentication_failure', async () => {
    const pi = await sb.stripe.paymentIntents.create({ amount: 990, currency: 'usd', allowed_payment_method_types: ['card'] });
    const paying = page.evaluate(
      ([pk, secret]) => {
        const w = window as any;
        w.stripe ??= w.Stripe(pk);
        return w.stripe.confirmCardPayment(secret, { payment_method: 'pm_card_authenticationRequired' });
      },
      [PK, pi.client_secret!] as const,
    );
    await answerChallenge('Fail authentication');
    const result = await paying;
    assert.equal(result.paymentIntent, undefined);
    assert.equal(result.error.code, 'payment_intent_authentication_failure');
    assert.equal(result.error.payment_intent.status, 'requires_payment_method');
    assert.equal((await sb.stripe.paymentIntents.retrieve(pi.id)).status, 'requires_payment_method');
  });
});
