// The invoice pages tell the payment state in words, through http.inject over a
// real database: each state written on the invoice's charge row as charging
// writes it, then the page read as the customer sees it (links to the card form,
// through the hand-over to CC_FORMS_URL, included).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Invoice } from '@vault/contracts';
import { linkHash, sessionHash } from '@vault/web';
import { ACCOUNT_A, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const CC_FORMS_URL = 'https://cards.example.test/pay-here';

let world: WebWorld;
let invoice: Invoice;
before(async () => {
  world = await webWorld({ ccFormsUrl: CC_FORMS_URL });
  invoice = (await world.billing.invoices(ACCOUNT_A))[0]!;
});
after(async () => {
  await world?.close();
});
const { get, signIn } = webClient(() => world);

/** The invoice's status and charge row, as charging leaves them. */
async function chargeState(status: string, row: Record<string, unknown>): Promise<void> {
  const pool = world.db.pool;
  await pool.query('delete from invoicing.charges where invoice_id = $1', [invoice.id]);
  const columns = Object.keys(row);
  await pool.query(
    `insert into invoicing.charges (invoice_id, ${columns.join(', ')}) values ($1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})`,
    [invoice.id, ...Object.values(row)],
  );
  await pool.query('update invoicing.invoices set status = $2 where id = $1', [invoice.id, status]);
}

/** The invoice page's payment section, as text, and its links. */
async function paymentSection(session: string): Promise<{ kind: string; text: string; links: string[]; status: string; tag: string }> {
  const res = await get(`/invoices/${invoice.id}`, session);
  assert.equal(res.statusCode, 200);
  const section = /<section class="card payment[^"]*"[^>]*data-payment="([^"]+)">([\s\S]*?)<\/section>/.exec(res.body);
  assert.ok(section, 'the page has a payment section');
  const [, tag = '', status = ''] = /<h1>Invoice [^<]*<span class="tag ([^"]+)">([^<]+)<\/span><\/h1>/.exec(res.body) ?? [];
  const text = section[2]!
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return { kind: section[1]!, text, links: [...section[2]!.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!), status, tag };
}

describe('the invoice page says the payment state in words', () => {
  let session: string;
  before(async () => {
    session = await signIn(ACCOUNT_A);
  });

  test('finalized, not charged yet: it says the card on file is charged shortly', async () => {
    const { kind, text } = await paymentSection(session);
    assert.equal(kind, 'pending');
    assert.match(text, /Not paid yet: we charge your card on file shortly/);
  });

  test('the total is "Amount due" until it is charged, "Amount charged" once paid', async () => {
    const label = async () => /<div class="total"><span>([^<]+)<\/span>/.exec((await get(`/invoices/${invoice.id}`, session)).body)?.[1];
    await chargeState('past_due', { state: 'past_due', attempts: 3, last_error_code: 'card_declined' });
    assert.equal(await label(), 'Amount due');
    await chargeState('paid', { state: 'paid', attempts: 1, paid_at: new Date('2026-11-04T09:30:00Z') });
    assert.equal(await label(), 'Amount charged');
  });

  test('paid: when, and the card brand and last 4', async () => {
    await chargeState('paid', {
      state: 'paid',
      attempts: 1,
      paid_at: new Date('2026-11-04T09:30:00Z'),
      paid_card_brand: 'visa',
      paid_card_last4: '4242',
    });
    const { kind, text, status } = await paymentSection(session);
    assert.equal(kind, 'paid');
    assert.equal(text, 'Payment Paid on Nov 4, 2026 with Visa •••• 4242. Thank you.');
    assert.equal(status, 'paid');
  });

  test('declined: the gateway’s reason, the next try’s date, and a link to the card form', async () => {
    await chargeState('finalized', {
      state: 'scheduled',
      attempts: 1,
      next_attempt_at: new Date('2026-11-07T00:00:00Z'),
      last_error_code: 'card_declined',
      last_decline_code: 'insufficient_funds',
      last_error_message: 'Your card has insufficient funds.',
    });
    const { kind, text, links, status, tag } = await paymentSection(session);
    assert.equal(kind, 'declined');
    assert.match(text, /Your card was declined: “?Your card has insufficient funds\.”? We will try again on Nov 7, 2026\./);
    assert.match(text, /update your payment card/);
    assert.deepEqual(links, ['/card-form?to=card']);
    assert.equal(status, 'declined, will retry');
    // Coloured as a payment that did not go through, not in the green of "finalized" and "paid".
    assert.equal(tag, 'status-declined');
    const list = await get('/invoices', session);
    assert.match(list.body, /<span class="tag status-declined">declined, will retry<\/span>/);
  });

  test('the usage page of an invoiced month tags it as its invoice page does', async () => {
    const usageTag = async () => {
      const res = await get('/usage?period=2026-10', session);
      assert.equal(res.statusCode, 200);
      return /<h1>Usage — [^<]*(<span class="tag [^"]+">[^<]+<\/span>)<\/h1>/.exec(res.body)?.[1];
    };
    await chargeState('finalized', {
      state: 'scheduled',
      attempts: 1,
      next_attempt_at: new Date('2026-11-07T00:00:00Z'),
      last_error_code: 'card_declined',
      last_error_message: 'Your card has insufficient funds.',
    });
    assert.equal(await usageTag(), '<span class="tag status-declined">declined, will retry</span>');
    await chargeState('past_due', {
      state: 'action_required',
      attempts: 1,
      payment_intent_id: 'pi_3DSecure0123456789',
      last_error_code: 'authentication_required',
      action_required_at: new Date('2026-11-02T00:00:00Z'),
    });
    assert.equal(await usageTag(), '<span class="tag status-action_required">action required</span>');
    await chargeState('paid', { state: 'paid', attempts: 1, paid_at: new Date('2026-11-04T09:30:00Z') });
    assert.equal(await usageTag(), '<span class="tag status-paid">paid</span>');
    // This month's draft has no payment: its tag is its status.
    assert.match((await get('/usage', session)).body, /<span class="tag status-draft">draft<\/span><\/h1>/);
  });

  test('past due, then a new card declined with a retry left: still past due, the reason and the next try, never "we will not try it again"', async () => {
    // decide.ts starts a round for the new card (round_start = the attempts before it); its decline
    // leaves a retry scheduled, and the invoice past_due (its status never moves back).
    const round = { state: 'scheduled', attempts: 4, round_start: 3, past_due_at: new Date('2026-11-09T00:00:00Z') };
    await chargeState('past_due', {
      ...round,
      next_attempt_at: new Date('2026-11-14T00:00:00Z'),
      last_error_code: 'card_declined',
      last_decline_code: 'insufficient_funds',
      last_error_message: 'Your card has insufficient funds.',
    });
    const declined = await paymentSection(session);
    assert.equal(declined.kind, 'declined');
    assert.match(
      declined.text,
      /^Payment Past due since Nov 9, 2026\. Your card was declined: “?Your card has insufficient funds\.”? We will try again on Nov 14, 2026\./,
    );
    assert.doesNotMatch(declined.text, /will not try/);
    assert.deepEqual(declined.links, ['/card-form?to=card']);
    assert.equal(declined.status, 'declined, will retry');
    // Its retry unanswered by the gateway: being tried, not given up, and no gateway words.
    await chargeState('past_due', {
      ...round,
      next_attempt_at: new Date('2026-11-14T00:00:00Z'),
      last_error_code: 'StripeConnectionError',
      last_error_message: 'An error occurred with our connection to Stripe.',
    });
    const unanswered = await paymentSection(session);
    assert.equal(unanswered.kind, 'pending');
    assert.equal(unanswered.text, 'Payment Past due since Nov 9, 2026: we are trying again with your card on file.');
    assert.deepEqual([unanswered.status, unanswered.tag], ['past due', 'status-past_due']);
    // The new card's first attempt in flight: the last error is the old card's, and no retry is set yet.
    await chargeState('past_due', {
      ...round,
      attempts: 3,
      pending_payment_method_id: 'pm_new_card',
      next_attempt_at: new Date('2026-11-12T00:00:00Z'),
      last_error_code: 'card_declined',
      last_error_message: 'Your card was declined.',
    });
    const inFlight = await paymentSection(session);
    assert.equal(inFlight.kind, 'pending');
    assert.equal(inFlight.text, 'Payment Past due since Nov 9, 2026: we are trying again with your card on file.');
  });

  test('the gateway’s own errors never reach the page: after a decline, an unanswered retry is pending, and a past due says no internal words', async () => {
    await chargeState('finalized', {
      state: 'scheduled',
      attempts: 1,
      next_attempt_at: new Date('2026-11-07T00:00:00Z'),
      last_error_code: 'StripeConnectionError',
      last_error_message: 'An error occurred with our connection to Stripe. Request was retried 2 times.',
    });
    const pending = await paymentSection(session);
    assert.equal(pending.kind, 'pending');
    assert.doesNotMatch(pending.text, /Stripe|connection|try again on/);
    await chargeState('past_due', {
      state: 'past_due',
      attempts: 3,
      last_error_code: 'resource_missing',
      last_error_message: "No such customer: 'cus_internal'",
      past_due_at: new Date('2026-11-09T00:00:00Z'),
    });
    const pastDue = await paymentSection(session);
    // Not the card's refusal: never called a decline.
    assert.match(pastDue.text, /Past due since Nov 9, 2026: we could not charge your card, and we will not try it again/);
    assert.doesNotMatch(pastDue.text, /declined/);
    assert.doesNotMatch(pastDue.text, /cus_internal|No such/);
  });

  test('past due without a card: why, and a link to add one', async () => {
    await chargeState('past_due', {
      state: 'past_due',
      last_error_code: 'no_card_on_file',
      last_error_message: 'The account has no card on file.',
      past_due_at: new Date('2026-11-01T00:00:00Z'),
    });
    const { kind, text, links, status } = await paymentSection(session);
    assert.equal(kind, 'past_due');
    assert.match(text, /^Payment Past due since Nov 1, 2026: there is no payment card on file for your account/);
    assert.match(text, /Add a payment card/);
    assert.deepEqual(links, ['/card-form?to=card']);
    assert.equal(status, 'past due');
  });

  test('past due after every retry was declined: the last reason, and a link to put another card on file', async () => {
    await chargeState('past_due', {
      state: 'past_due',
      attempts: 3,
      last_error_code: 'card_declined',
      last_error_message: 'Your card was declined.',
      past_due_at: new Date('2026-11-09T00:00:00Z'),
    });
    const { text, links } = await paymentSection(session);
    // The gateway's generic "Your card was declined." is not quoted after the same words.
    assert.match(text, /Past due since Nov 9, 2026: your card was declined each time we tried, and we will not try it again\./);
    assert.deepEqual(links, ['/card-form?to=card']);
  });

  test('action required: the bank asks the cardholder, and the link opens the card form’s authenticate page for its PaymentIntent', async () => {
    await chargeState('action_required', {
      state: 'action_required',
      attempts: 1,
      payment_intent_id: 'pi_3DSecure0123456789',
      last_payment_method_id: 'pm_3184',
      last_error_code: 'authentication_required',
      last_error_message: 'Your card was declined. This transaction requires authentication.',
      action_required_at: new Date('2026-11-02T00:00:00Z'),
    });
    const { kind, text, links, status } = await paymentSection(session);
    assert.equal(kind, 'action_required');
    assert.match(text, /Your bank asks you to confirm this payment \(3-D Secure\)/);
    assert.match(text, /Authenticate and pay \$52\.58/);
    assert.deepEqual(links, ['/card-form?to=payments/pi_3DSecure0123456789']);
    assert.equal(status, 'action required');
    const list = await get('/invoices', session);
    assert.match(list.body, /Your bank asks you to confirm a payment/);
    assert.match(list.body, /<span class="tag status-action_required">action required<\/span>/);
  });

  test('action required after a failed check: it says so, and offers another try or another card', async () => {
    await chargeState('action_required', {
      state: 'action_required',
      attempts: 1,
      payment_intent_id: 'pi_3DSecure0123456789',
      last_payment_method_id: 'pm_3184',
      last_error_code: 'payment_intent_authentication_failure',
      last_error_message: 'The provided PaymentMethod has failed authentication.',
      action_required_at: new Date('2026-11-02T00:00:00Z'),
    });
    const { kind, text, links } = await paymentSection(session);
    assert.equal(kind, 'action_required');
    assert.match(
      text,
      /Your last confirmation did not pass your bank's check: nothing was charged\. Try again, or put another payment card on file\./,
    );
    assert.doesNotMatch(text, /failed authentication/, "the gateway's words for us are not shown");
    assert.deepEqual(links, ['/card-form?to=card', '/card-form?to=payments/pi_3DSecure0123456789']);
  });

  test('declined after authenticating (payment_intent.payment_failed): still waiting, not past due; it says declined and offers another try or another card', async () => {
    const declined = {
      state: 'action_required',
      attempts: 1,
      payment_intent_id: 'pi_3DSecure0123456789',
      last_payment_method_id: 'pm_3184',
      last_error_code: 'card_declined',
      last_decline_code: 'generic_decline',
      last_error_message: 'Your card was declined.',
      action_required_at: new Date('2026-11-02T00:00:00Z'),
    };
    await chargeState('action_required', declined);
    const { kind, text, links, status } = await paymentSection(session);
    assert.equal(kind, 'action_required');
    assert.match(
      text,
      /Your bank declined this payment after you confirmed it: “?Your card was declined\.”? Nothing has been charged\. Put another payment card on file \(we charge it at once\), or try again with this card\. Try again: pay \$52\.58/,
    );
    assert.doesNotMatch(text, /asks you to confirm|Past due/);
    assert.deepEqual(links, ['/card-form?to=card', '/card-form?to=payments/pi_3DSecure0123456789']);
    assert.equal(status, 'declined');
    const list = await get('/invoices', session);
    assert.match(list.body, /A payment did not go through/);
    assert.doesNotMatch(list.body, /asks you to confirm a payment/);

    // The window over: past due, the decline still said, the same offers.
    await chargeState('past_due', { ...declined, past_due_at: new Date('2026-11-10T00:00:00Z') });
    const late = await paymentSection(session);
    assert.equal(late.kind, 'action_required');
    assert.match(late.text, /Past due: your bank declined this payment after you confirmed it: “?Your card was declined\.”?/);
    assert.deepEqual(late.links, ['/card-form?to=card', '/card-form?to=payments/pi_3DSecure0123456789']);
  });

  test('refunded: the amount that went back to the card', async () => {
    await chargeState('paid', { state: 'paid', attempts: 1, paid_at: new Date('2026-11-04T09:30:00Z') });
    await world.db.pool.query('update invoicing.invoices set amount_refunded = 10.00 where id = $1', [invoice.id]);
    assert.match((await paymentSection(session)).text, /Paid on Nov 4, 2026; \$10\.00 of \$52\.58 was refunded to your card\./);
    // The refund is part of the amount charged: under it, not a step between the credit and the total.
    const page = (await get(`/invoices/${invoice.id}`, session)).body;
    const sums = [...page.matchAll(/<div class="(?:sum|total)"><span>([^<]+)<\/span><span [^>]*>([^<]+)<\/span><\/div>/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    assert.deepEqual(sums, ['Subtotal $52.58', 'Credit applied $0.00', 'Amount charged $52.58', 'of which refunded to your card $10.00']);
    await world.db.pool.query(`update invoicing.invoices set amount_refunded = total, status = 'refunded' where id = $1`, [invoice.id]);
    const { kind, text } = await paymentSection(session);
    assert.equal(kind, 'refunded');
    assert.match(text, /Refunded: the whole \$52\.58 went back to your card\./);
  });

  test('every page links to the card form; /favicon.ico is an icon for anyone, not a 401', async () => {
    const list = await get('/invoices', session);
    assert.match(list.body, /<a href="\/card-form\?to=card">manage it on the card form<\/a>/);
    const icon = await get('/favicon.ico');
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['content-type'], 'image/x-icon');
    assert.equal(icon.headers['cache-control'], 'public, max-age=86400');
    assert.deepEqual([...icon.rawPayload.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
  });

  test("/card-form hands the customer to the card form with a fresh sign-in link of the session's own token, to the page asked for; nothing else", async () => {
    const res = await get('/card-form?to=payments/pi_3DSecure0123456789', session);
    assert.equal(res.statusCode, 303);
    const to = new URL(String(res.headers.location));
    assert.equal(`${to.origin}${to.pathname}`, `${CC_FORMS_URL}/signin`);
    assert.equal(to.searchParams.get('next'), '/payments/pi_3DSecure0123456789');
    const link = to.searchParams.get('link')!;
    assert.match(link, /^vl_[\w-]{43}$/);
    const { rows } = await world.db.pool.query(
      `select l.account_id, l.used_at, l.token_id = s.token_id as same_token
         from invoicing.sign_in_links l, invoicing.sessions s
        where l.hash = $1 and s.hash = $2`,
      [linkHash(link), sessionHash(session)],
    );
    assert.deepEqual(rows, [{ account_id: ACCOUNT_A, used_at: null, same_token: true }]);
    assert.equal(new URL(String((await get('/card-form?to=card', session)).headers.location)).searchParams.get('next'), '/card');
    for (const bad of ['https://evil.example/x', '/card', 'payments/../admin', 'card%0a']) {
      assert.equal((await get(`/card-form?to=${encodeURIComponent(bad)}`, session)).statusCode, 400, bad);
    }
    const anonymous = await get('/card-form?to=card');
    assert.deepEqual([anonymous.statusCode, anonymous.headers.location], [303, '/']);
  });
});
