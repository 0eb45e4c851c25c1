// Which requests cost a call to the gateway with the platform's secret key, and
// how many: cc-forms in process over the real gateway sandbox (a process of its
// own, whose logged API requests are counted) and a real PostgreSQL. POST /card
// asks the gateway only about setup intents this account opened here, and a
// finished one not again; every lookup a signed-in account causes counts against
// GATEWAY_LOOKUPS_PER_MINUTE.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_LOOKUPS_PER_MINUTE } from '../src/domain/rate-limit.ts';
import { gatewayRequestsDuring, startSandbox, type Sandbox } from './sandbox.ts';
import { accountToken, signIn, world, type Browser, type World } from './world.ts';
import type { CardGateway } from '../src/cards/gateway.ts';

let sb: Sandbox;
let w: World<CardGateway>;
before(async () => {
  sb = await startSandbox();
  w = await world({ gateway: sb.gateway });
});
after(async () => {
  await w?.close();
  await sb?.close();
});

const NOT_YOURS = 'This card setup does not belong to your account. Nothing was saved: please try again.';

/** Signs the account in and opens a setup intent through cc-forms; its id. */
async function opened(accountId: string): Promise<{ b: Browser; si: string; secret: string }> {
  const b = await signIn(w, await accountToken(w, accountId));
  const res = await b.postJson('/card/setup-intents', {});
  assert.equal(res.statusCode, 201);
  const secret = res.json().client_secret as string;
  return { b, si: secret.split('_secret_')[0]!, secret };
}

/** What the customer's browser does with the card fields: a payment method, then the setup intent confirmed with it. */
async function confirmAtGateway(si: string, secret: string, number = '4242424242424242'): Promise<string> {
  const pm = await sb.browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
  await sb.browser.setupIntents.confirm(si, { payment_method: pm.id, client_secret: secret } as never);
  return pm.id;
}

const customerOf = async (accountId: string) =>
  (await w.db.pool.query<{ customer_id: string }>('select customer_id from cc_forms.customers where account_id = $1', [accountId])).rows[0]!
    .customer_id;

describe('POST /card asks the gateway only about setup intents the account opened here', () => {
  test('a made-up setup intent id, or another account’s confirmed one, is refused from our records: 400, not one gateway request', async () => {
    const victim = await opened('acct-lookup-victim');
    await confirmAtGateway(victim.si, victim.secret);
    const mallory = await signIn(w, await accountToken(w, 'acct-lookup-mallory'));
    assert.equal((await mallory.postJson('/card/setup-intents', {})).statusCode, 201, 'mallory has a customer of her own');
    const answers: { statusCode: number; json(): { error: { message: string } } }[] = [];
    const made = `seti_${randomBytes(12).toString('hex')}`;
    const requests = await gatewayRequestsDuring(sb, async () => {
      for (const si of [made, victim.si]) answers.push(await mallory.postJson('/card', { setup_intent: si }));
    });
    assert.deepEqual(requests, [], 'no call with the secret key');
    for (const res of answers) {
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error.message, NOT_YOURS, 'the same answer as ever: nothing learned');
    }
    const log = w.log.lines.join('\n');
    assert.match(
      log,
      new RegExp(`event=card.setup_refused account_id=acct-lookup-mallory setup_intent_id=${made} reason=not_started_here`),
    );
    assert.match(
      log,
      new RegExp(`event=card.setup_refused account_id=acct-lookup-mallory setup_intent_id=${victim.si} reason=not_started_here`),
    );
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.cards where account_id = 'acct-lookup-mallory'`);
    assert.equal(rowCount, 0);

    // The victim's own setup intent still goes through the gateway's checks, and is saved.
    const saved = await gatewayRequestsDuring(sb, async () =>
      assert.equal((await victim.b.postJson('/card', { setup_intent: victim.si })).statusCode, 200),
    );
    assert.deepEqual(saved, ['GET /v1/setup_intents/:id', 'GET /v1/payment_methods/:id', 'POST /v1/customers/:id']);
  });

  test('a finished setup intent posted again answers the same card from our records, with no gateway request; added_at stays', async () => {
    const { b, si, secret } = await opened('acct-lookup-again');
    const pm = await confirmAtGateway(si, secret, '5555555555554444');
    const first = await b.postJson('/card', { setup_intent: si });
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json().card, {
      brand: 'mastercard',
      last4: '4444',
      exp_month: 12,
      exp_year: 2034,
      summary: 'Mastercard •••• 4444',
      expires: '12/2034',
    });
    const row = async () =>
      (await w.db.pool.query(`select payment_method_id, added_at from cc_forms.cards_on_file where account_id = 'acct-lookup-again'`))
        .rows[0];
    const stored = await row();
    assert.equal(stored.payment_method_id, pm);
    const again: { statusCode: number; json(): unknown }[] = [];
    const requests = await gatewayRequestsDuring(sb, async () => {
      for (let i = 0; i < 3; i++) again.push(await b.postJson('/card', { setup_intent: si }));
    });
    assert.deepEqual(requests, []);
    for (const res of again) {
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), first.json());
    }
    assert.deepEqual(await row(), stored);
    const customer = await sb.stripe.customers.retrieve(await customerOf('acct-lookup-again'));
    assert.equal(!customer.deleted && customer.invoice_settings.default_payment_method, pm, 'still the gateway’s default');
  });

  test('a replaced card’s setup intent posted again is refused from our records (409: replaced since), with no gateway request; the new card stays', async () => {
    const first = await opened('acct-lookup-replaced');
    await confirmAtGateway(first.si, first.secret);
    assert.equal((await first.b.postJson('/card', { setup_intent: first.si })).statusCode, 200);
    const res = await first.b.postJson('/card/setup-intents', {});
    const secret = res.json().client_secret as string;
    const next = secret.split('_secret_')[0]!;
    const pm = await confirmAtGateway(next, secret, '5555555555554444');
    assert.equal((await first.b.postJson('/card', { setup_intent: next })).statusCode, 200);
    let again: Awaited<ReturnType<Browser['postJson']>> | undefined;
    const requests = await gatewayRequestsDuring(sb, async () => (again = await first.b.postJson('/card', { setup_intent: first.si })));
    assert.deepEqual(requests, [], 'no call with the secret key');
    assert.equal(again!.statusCode, 409);
    assert.match(again!.json().error.message, /card on file was replaced after this card was entered/);
    const { rows } = await w.db.pool.query(
      `select payment_method_id from cc_forms.cards_on_file where account_id = 'acct-lookup-replaced'`,
    );
    assert.equal(rows[0]?.payment_method_id, pm);
    const customer = await sb.stripe.customers.retrieve(await customerOf('acct-lookup-replaced'));
    assert.equal(!customer.deleted && customer.invoice_settings.default_payment_method, pm, 'still the gateway’s default');
  });

  test(`its own setup intent posted over and over: the gateway is asked ${GATEWAY_LOOKUPS_PER_MINUTE} times in a minute, then 429 with Retry-After and no request`, async () => {
    const { b, si } = await opened('acct-lookup-repost');
    const requests = await gatewayRequestsDuring(sb, async () => {
      for (let i = 0; i < GATEWAY_LOOKUPS_PER_MINUTE; i++) {
        const res = await b.postJson('/card', { setup_intent: si });
        assert.equal(res.statusCode, 409, `post ${i + 1}: unconfirmed, as today`);
      }
    });
    assert.deepEqual(requests, Array(GATEWAY_LOOKUPS_PER_MINUTE).fill('GET /v1/setup_intents/:id'));
    let limited: Awaited<ReturnType<Browser['postJson']>> | undefined;
    assert.deepEqual(await gatewayRequestsDuring(sb, async () => (limited = await b.postJson('/card', { setup_intent: si }))), []);
    assert.equal(limited!.statusCode, 429);
    const retryAfter = Number(limited!.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, String(retryAfter));
    assert.equal(limited!.json().error.code, 'rate_limited');
    assert.match(
      limited!.json().error.message,
      /too many requests to the payment gateway in the last minute.* Please try again in (\d+ seconds?|1 minute)\. Nothing was saved\.$/,
    );
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(
        `event=gateway.lookups_limited account_id=acct-lookup-repost setup_intent_id=${si} retry_after_s=\\d+ count#gateway.lookups_limited=1`,
      ),
    );
  });
});

/** A customer with a card on file (through cc-forms) and an invoice's PaymentIntent at the gateway, as the charger leaves it. */
async function customerWithPayment(accountId: string): Promise<{ b: Browser; pi: string }> {
  const { b, si, secret } = await opened(accountId);
  const pm = await confirmAtGateway(si, secret);
  assert.equal((await b.postJson('/card', { setup_intent: si })).statusCode, 200);
  const intent = await sb.stripe.paymentIntents.create({
    amount: 5258,
    currency: 'usd',
    customer: await customerOf(accountId),
    payment_method: pm,
    metadata: { account_id: accountId, invoice_id: 'in_0123', number: '2026-10-000007' },
  });
  // Saving the card took a lookup of the same per-account budget: the tests start a fresh minute.
  await w.db.pool.query('delete from cc_forms.gateway_lookups where account_id = $1', [accountId]);
  return { b, pi: intent.id };
}

describe(`GET /payments/:id and POST /payments/:id/start: at most ${GATEWAY_LOOKUPS_PER_MINUTE} gateway lookups per account a minute`, () => {
  test('the lookups below the limit answer as before; the next is a 429 page with Retry-After, and the start call 429 JSON, logged with count#, asking the gateway nothing', async () => {
    const { b, pi } = await customerWithPayment('acct-lookup-pay');
    const requests = await gatewayRequestsDuring(sb, async () => {
      for (let i = 0; i < GATEWAY_LOOKUPS_PER_MINUTE - 1; i++) {
        const page = await b.get(`/payments/${pi}`);
        assert.equal(page.statusCode, 200, `lookup ${i + 1}`);
        assert.match(page.body, /<h1>Pay invoice 2026-10-000007<\/h1>/);
      }
      const start = await b.postJson(`/payments/${pi}/start`, {});
      assert.equal(start.statusCode, 200, `lookup ${GATEWAY_LOOKUPS_PER_MINUTE}: the start call`);
      assert.match(start.json().client_secret, new RegExp(`^${pi}_secret_`));
    });
    assert.deepEqual(requests, Array(GATEWAY_LOOKUPS_PER_MINUTE).fill('GET /v1/payment_intents/:id'));

    let page: Awaited<ReturnType<Browser['get']>> | undefined;
    let start: Awaited<ReturnType<Browser['postJson']>> | undefined;
    const refused = await gatewayRequestsDuring(sb, async () => {
      page = await b.get(`/payments/${pi}`);
      start = await b.postJson(`/payments/${pi}/start`, {});
    });
    assert.deepEqual(refused, [], 'past the limit nothing reaches the gateway');
    assert.equal(page!.statusCode, 429);
    assert.match(String(page!.headers['content-type']), /^text\/html/);
    const pageRetry = Number(page!.headers['retry-after']);
    assert.ok(pageRetry > 0 && pageRetry <= 60, String(pageRetry));
    assert.match(page!.body, /<h1>Please wait a moment<\/h1>/);
    assert.match(
      page!.body,
      /too many requests to the payment gateway in the last minute.* Please try again in (\d+ seconds?|1 minute)\. Nothing was charged\./,
    );
    assert.doesNotMatch(page!.body, /2026-10-000007|52\.58/);
    assert.equal(start!.statusCode, 429);
    assert.ok(Number(start!.headers['retry-after']) > 0);
    assert.equal(start!.json().error.code, 'rate_limited');
    assert.match(start!.json().error.message, /Nothing was charged\.$/);
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(
        `event=gateway.lookups_limited account_id=acct-lookup-pay payment_intent_id=${pi} retry_after_s=\\d+ count#gateway.lookups_limited=1`,
      ),
    );

    // Per account; kept in PostgreSQL (a restart changes nothing); free again once a lookup is a minute old.
    const other = await customerWithPayment('acct-lookup-pay-other');
    assert.equal((await other.b.get(`/payments/${other.pi}`)).statusCode, 200);
    await w.restart();
    const again = await signIn(w, await accountToken(w, 'acct-lookup-pay'));
    assert.equal((await again.get(`/payments/${pi}`)).statusCode, 429);
    await w.db.pool.query(
      `update cc_forms.gateway_lookups set at = at - interval '61 seconds'
       where id = (select min(id) from cc_forms.gateway_lookups where account_id = 'acct-lookup-pay')`,
    );
    assert.equal((await again.get(`/payments/${pi}`)).statusCode, 200);
    assert.equal((await again.get(`/payments/${pi}`)).statusCode, 429);
  });

  test('concurrent lookups cannot overshoot the limit', async () => {
    const { b, pi } = await customerWithPayment('acct-lookup-burst');
    let answers: number[] = [];
    const requests = await gatewayRequestsDuring(sb, async () => {
      answers = (await Promise.all(Array.from({ length: GATEWAY_LOOKUPS_PER_MINUTE + 10 }, () => b.get(`/payments/${pi}`)))).map(
        (r) => r.statusCode,
      );
    });
    assert.deepEqual(answers.sort(), [...Array(GATEWAY_LOOKUPS_PER_MINUTE).fill(200), ...Array(10).fill(429)]);
    assert.equal(requests.length, GATEWAY_LOOKUPS_PER_MINUTE);
  });

  test('an account without a gateway customer, or a malformed id, is a 404 that takes no lookup', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-lookup-none'));
    const requests = await gatewayRequestsDuring(sb, async () => {
      assert.equal((await b.get('/payments/pi_000000000000000000000000')).statusCode, 404);
      assert.equal((await b.postJson('/payments/not-an-id/start', {})).statusCode, 404);
    });
    assert.deepEqual(requests, []);
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.gateway_lookups where account_id = 'acct-lookup-none'`);
    assert.equal(rowCount, 0);
  });

  test("opening a setup intent deletes the account's own abandoned ones (older than a day): the table does not only grow", async () => {
    const first = await opened('acct-lookup-prune');
    await w.db.pool.query(`update cc_forms.setup_intents set created_at = now() - interval '25 hours' where id = $1`, [first.si]);
    const second = await opened('acct-lookup-prune');
    const { rows } = await w.db.pool.query<{ id: string }>(`select id from cc_forms.setup_intents where account_id = 'acct-lookup-prune'`);
    assert.deepEqual(
      rows.map((r) => r.id),
      [second.si],
    );
  });
});
