// The card form's session ends between the setup intent and saving the card (a
// 12-hour session running out, a hand-over's end, or signing out in another
// tab), in a real Chromium with the gateway sandbox and cc-forms as processes.
// The alert must say the card was NOT saved and give the real way back, a link
// to the invoice pages: a sign-in link works once, and "open your sign-in link
// again" sent the customer in a loop. The card on file stays what it was. The
// pay page alike: nothing was charged, and a link back to the invoice.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { eventually } from '@vault/testkit';
import { type CardForm, signInToCard, startCardForm, typeCard } from './card-form-fixture.ts';

const ACCOUNT = 'acct-session-ends';
/** Where the card form sends the customer back: invoicing's pages (not running here: only the link is checked). */
const INVOICING_WEB_URL = 'http://billing.example.test';

let cardForm: CardForm;

before(async () => {
  cardForm = await startCardForm('session_ends', { INVOICING_WEB_URL, ADMIN_TOKEN: 'session-ends-admin-token-0123456789abcdef' });
});

after(async () => {
  await cardForm?.close();
});

const storedCard = async () =>
  (
    await cardForm.db.pool.query<{ last4: string; payment_method_id: string; customer_id: string }>(
      'select last4, payment_method_id, customer_id from cc_forms.cards_on_file where account_id = $1',
      [ACCOUNT],
    )
  ).rows[0];

/** Ends the account's card form sessions as the request goes out (its cookie and token still those of a live session). */
const endSessionOn = (url: string) =>
  cardForm.page.route(url, async (route) => {
    if (route.request().method() === 'POST') await cardForm.db.pool.query('delete from cc_forms.sessions where account_id = $1', [ACCOUNT]);
    await route.continue();
  });

describe('the card form when the session ends before the card is saved (Chromium)', { timeout: 180_000 }, () => {
  test('the alert says the card was not saved and links to the invoice pages; the card on file is unchanged', async () => {
    const { ccForms, page } = cardForm;
    await signInToCard(cardForm, ACCOUNT);
    await typeCard(cardForm, '4242424242424242');
    await page.getByRole('button', { name: 'Save card' }).click();
    await eventually('the first card saved', async () => /Card saved: Visa •••• 4242/.test(await page.getByRole('status').innerText()));
    const before = await storedCard();
    assert.equal(before?.last4, '4242');

    // The session ends after the gateway confirmed the setup intent, before cc-forms is told to save it.
    await endSessionOn(`${ccForms.url}/card`);
    await typeCard(cardForm, '5555555555554444');
    const saved = page.waitForResponse((res) => res.url() === `${ccForms.url}/card` && res.request().method() === 'POST');
    await page.getByRole('button', { name: 'Save card' }).click();
    assert.equal((await saved).status(), 401);

    const alert = page.getByRole('alert');
    await eventually('the alert', async () => /session ended/.test(await alert.innerText()));
    const text = await alert.innerText();
    assert.match(text, /Your session ended before your card was saved, so it was not saved\./);
    assert.match(
      text,
      /Go back to your invoices and open the card form from there, or ask your account's administrator for a new sign-in link\./,
    );
    assert.doesNotMatch(text, /sign-in link again/);
    assert.equal(await alert.getByRole('link', { name: 'your invoices' }).getAttribute('href'), `${INVOICING_WEB_URL}/invoices`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-errors', 'the alert has the focus');
    assert.equal(await page.getByRole('status').innerText(), '', 'no "Checking your card…" left behind');
    assert.deepEqual(await storedCard(), before, 'the card on file is unchanged');
  });

  test('the pay page alike: the alert says nothing was charged and links back to the invoice', async () => {
    const { db, sandbox, ccForms, page } = cardForm;
    const card = (await storedCard())!;
    const keys = await sandboxKeys(db.pool);
    const stripe = gatewayClient({ url: new URL(sandbox.url), secretKey: keys.secretKey });
    // An invoice's PaymentIntent waiting for the cardholder, as invoicing's charger leaves one.
    const intent = await stripe.paymentIntents.create({
      amount: 16583,
      currency: 'usd',
      customer: card.customer_id,
      payment_method: card.payment_method_id,
      metadata: { account_id: ACCOUNT, invoice_id: 'in_session_ends', number: '2026-11-000042' },
    });
    await signInToCard(cardForm, ACCOUNT);
    await page.goto(`${ccForms.url}/payments/${intent.id}`);
    await endSessionOn(`${ccForms.url}/payments/${intent.id}/start`);
    const started = page.waitForResponse((res) => res.url().endsWith(`/payments/${intent.id}/start`));
    await page.getByRole('button', { name: /pay \$165\.83/ }).click();
    assert.equal((await started).status(), 401);
    const alert = page.getByRole('alert');
    await eventually('the alert', async () => /session ended/.test(await alert.innerText()));
    const text = await alert.innerText();
    assert.match(text, /Your session ended before the payment started, so nothing was charged\./);
    assert.match(
      text,
      /Go back to your invoice and open this payment from there, or ask your account's administrator for a new sign-in link\./,
    );
    assert.equal(
      await alert.getByRole('link', { name: 'your invoice' }).getAttribute('href'),
      `${INVOICING_WEB_URL}/invoices/in_session_ends`,
    );
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pay-errors', 'the alert has the focus');
    assert.equal((await stripe.paymentIntents.retrieve(intent.id)).status, 'requires_confirmation', 'nothing was charged');
  });
});
