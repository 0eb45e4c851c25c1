// Putting a card on file, server side, over a fake gateway: the customer is
// created once, a confirmed setup intent becomes the card on file (published
// as cc_forms.cards_on_file), foreign or unconfirmed ones are refused, and
// card attempts are rate limited durably.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { accountToken, signIn, world, type World } from './world.ts';

describe('putting a card on file', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(async () => {
    await w?.close();
  });

  test('a setup intent is opened for the account’s customer, created once (its idempotency key: gateway.test.ts); the client secret is the gateway’s', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-1'));
    const first = await b.postJson('/card/setup-intents', {});
    assert.equal(first.statusCode, 201);
    assert.match(first.json().client_secret, /^seti_[0-9a-f]+_secret_[0-9a-f]+$/);
    const second = await b.postJson('/card/setup-intents', {});
    assert.equal(second.statusCode, 201);
    assert.deepEqual(
      [first.json().client_secret, second.json().client_secret],
      [...w.gateway.setupIntents.values()].map((si) => si.clientSecret),
    );
    assert.deepEqual(w.gateway.customerCalls, ['acct-card-1'], 'the customer is created once');
    const { rows } = await w.db.pool.query('select customer_id from cc_forms.customers where account_id = $1', ['acct-card-1']);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-card-1')!;
    assert.equal(rows[0]?.customer_id, customer.id);
    const intents = [...w.gateway.setupIntents.values()];
    assert.ok(intents.every((si) => si.customerId === customer.id));
  });

  test('a confirmed setup intent becomes the card on file and the customer’s default; cards_on_file has exactly the published columns, the card’s fingerprint too', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-2'));
    const secret = (await b.postJson('/card/setup-intents', {})).json().client_secret as string;
    const si = secret.split('_secret_')[0]!;
    const pm = w.gateway.confirm(si, { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().card, {
      brand: 'visa',
      last4: '4242',
      exp_month: 12,
      exp_year: 2034,
      summary: 'Visa •••• 4242',
      expires: '12/2034',
    });
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-card-2')!;
    assert.equal(customer.defaultPaymentMethod, pm);

    const view = await w.db.pool.query(`select * from cc_forms.cards_on_file where account_id = 'acct-card-2'`);
    assert.deepEqual(
      view.fields.map((f) => f.name),
      ['account_id', 'customer_id', 'payment_method_id', 'brand', 'last4', 'exp_month', 'exp_year', 'added_at', 'fingerprint'],
    );
    const row = view.rows[0];
    assert.deepEqual(
      { ...row, added_at: undefined },
      {
        account_id: 'acct-card-2',
        customer_id: customer.id,
        payment_method_id: pm,
        brand: 'visa',
        last4: '4242',
        exp_month: 12,
        exp_year: 2034,
        added_at: undefined,
        fingerprint: 'fp_4242',
      },
    );
    assert.ok(row.added_at instanceof Date);

    const page = await b.get('/card');
    assert.match(page.body, /<span data-card-summary>Visa •••• 4242<\/span>/);
    assert.match(page.body, /<span class="muted" data-card-expiry>expires 12\/2034<\/span>/);
    assert.match(page.body, /Replace your card/);
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(`event=card.added account_id=acct-card-2 customer_id=${customer.id} payment_method_id=${pm} setup_intent_id=${si}`),
    );
  });

  test('posting the same setup intent again changes nothing (added_at stays); a new card replaces it and moves added_at', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-3'));
    const open = async () => ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    const si = await open();
    w.gateway.confirm(si, { last4: '4242' });
    await b.postJson('/card', { setup_intent: si });
    const addedAt = async () =>
      (
        await w.db.pool.query<{ added_at: Date; last4: string }>(
          `select added_at, last4 from cc_forms.cards_on_file where account_id = 'acct-card-3'`,
        )
      ).rows[0]!;
    const before = await addedAt();
    assert.equal((await b.postJson('/card', { setup_intent: si })).statusCode, 200);
    assert.deepEqual(await addedAt(), before);
    const next = await open();
    w.gateway.confirm(next, { brand: 'mastercard', last4: '4444' });
    await b.postJson('/card', { setup_intent: next });
    const after = await addedAt();
    assert.equal(after.last4, '4444');
    assert.ok(after.added_at > before.added_at);
  });

  test('a setup intent older than the card on file’s (the replaced card’s, or one never posted) is refused 409 saying the card was replaced since; card and gateway default stay', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-9'));
    const open = async () => ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    const [first, unposted] = [await open(), await open()];
    w.gateway.confirm(first, { last4: '4242' });
    w.gateway.confirm(unposted, { last4: '1881' });
    assert.equal((await b.postJson('/card', { setup_intent: first })).statusCode, 200);
    const next = await open();
    const pm = w.gateway.confirm(next, { brand: 'mastercard', last4: '4444' });
    assert.equal((await b.postJson('/card', { setup_intent: next })).statusCode, 200);
    const onFile = async () =>
      (await w.db.pool.query(`select payment_method_id, last4, added_at from cc_forms.cards_on_file where account_id = 'acct-card-9'`))
        .rows[0];
    const before = await onFile();
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-card-9')!;
    for (const si of [first, unposted]) {
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 409, si);
      assert.equal(res.json().error.code, 'setup_refused');
      assert.match(res.json().error.message, /card on file was replaced after this card was entered/);
      assert.match(
        w.log.lines.join('\n'),
        new RegExp(`event=card.setup_refused account_id=acct-card-9 setup_intent_id=${si} reason=superseded`),
      );
    }
    assert.deepEqual(await onFile(), before, 'still 4444, added_at unmoved');
    assert.equal(before.payment_method_id, pm);
    assert.equal(customer.defaultPaymentMethod, pm, 'the gateway’s default stays the new card');
    // The current one posted again still answers its card.
    assert.equal((await b.postJson('/card', { setup_intent: next })).json().card.last4, '4444');
  });

  test('finishes of one account at once: one holds the card lock; the others are refused 409 at once, holding no connection, while its gateway call is stuck; other accounts are served meanwhile', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-10'));
    const other = await signIn(w, await accountToken(w, 'acct-card-11'));
    const open = async () => ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    const [older, newer] = [await open(), await open()];
    const pmA = w.gateway.confirm(older, { last4: '4242' });
    const pmB = w.gateway.confirm(newer, { brand: 'mastercard', last4: '4444' });
    // A slow gateway: the older card's makeDefault is stuck until released.
    const makeDefault = w.gateway.makeDefault;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let stuck = () => {};
    const isStuck = new Promise<void>((resolve) => (stuck = resolve));
    w.gateway.makeDefault = async (customerId, pmId) => {
      if (pmId === pmA) {
        stuck();
        await released;
      }
      await makeDefault(customerId, pmId);
    };
    const within = async <T>(answer: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in 3 s`)), 3_000)));
      return Promise.race([answer, late]).finally(() => clearTimeout(timer));
    };
    try {
      const first = b.postJson('/card', { setup_intent: older });
      await isStuck;
      // More finishes than the pool has connections (10): the newer tab's, and the older one submitted again.
      const finishes = Promise.all([newer, ...Array<string>(10).fill(older)].map((si) => b.postJson('/card', { setup_intent: si })));
      // Had they waited for the lock, they would hold every connection by now: nobody would be served.
      await Promise.race([finishes, delay(1_000)]);
      assert.equal((await within(other.get('/card'), 'another account’s card page')).statusCode, 200);
      for (const res of await within(finishes, 'the other finishes')) {
        assert.equal(res.statusCode, 409);
        assert.match(res.json().error.message, /^Another card is being saved for your account right now\. Reload the page in a moment/);
      }
      release();
      assert.equal((await first).statusCode, 200);
    } finally {
      release();
      w.gateway.makeDefault = makeDefault;
    }
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(`event=card.setup_refused account_id=acct-card-10 setup_intent_id=${newer} reason=busy`),
    );
    // The newer card posted again once the lock is free: it wins, at the gateway and in cards_on_file alike.
    assert.equal((await b.postJson('/card', { setup_intent: newer })).json().card.last4, '4444');
    const { rows } = await w.db.pool.query(`select payment_method_id from cc_forms.cards_on_file where account_id = 'acct-card-10'`);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-card-10')!;
    assert.deepEqual([rows[0]?.payment_method_id, customer.defaultPaymentMethod], [pmB, pmB]);
  });

  test('an older setup intent past the first check while a newer one is saved is refused 409 under the lock; the gateway default is never moved back', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-12'));
    const open = async () => ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    const [older, newer] = [await open(), await open()];
    const pmA = w.gateway.confirm(older, { last4: '4242' });
    const pmB = w.gateway.confirm(newer, { brand: 'mastercard', last4: '4444' });
    // The older one's gateway lookups come after its check from our records: the newer one finishes fully there.
    const { paymentMethod, makeDefault } = w.gateway;
    let newerAnswer: Awaited<ReturnType<typeof b.postJson>> | undefined;
    w.gateway.paymentMethod = async (pmId) => {
      if (pmId === pmA && !newerAnswer) newerAnswer = await b.postJson('/card', { setup_intent: newer });
      return paymentMethod(pmId);
    };
    const defaults: string[] = [];
    w.gateway.makeDefault = async (customerId, pmId) => {
      defaults.push(pmId);
      await makeDefault(customerId, pmId);
    };
    try {
      const olderAnswer = await b.postJson('/card', { setup_intent: older });
      assert.equal(newerAnswer?.statusCode, 200);
      assert.equal(olderAnswer.statusCode, 409);
      assert.match(olderAnswer.json().error.message, /card on file was replaced after this card was entered/);
    } finally {
      Object.assign(w.gateway, { paymentMethod, makeDefault });
    }
    assert.deepEqual(defaults, [pmB], 'the older card was never made the default');
    const { rows } = await w.db.pool.query(`select payment_method_id from cc_forms.cards_on_file where account_id = 'acct-card-12'`);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-card-12')!;
    assert.deepEqual([rows[0]?.payment_method_id, customer.defaultPaymentMethod], [pmB, pmB]);
  });

  test('another account’s, an unknown, or an unconfirmed setup intent is refused and nothing is stored', async () => {
    const mallory = await signIn(w, await accountToken(w, 'acct-card-4'));
    const victim = await signIn(w, await accountToken(w, 'acct-card-5'));
    await mallory.postJson('/card/setup-intents', {});
    const theirs = ((await victim.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    w.gateway.confirm(theirs);
    const stolen = await mallory.postJson('/card', { setup_intent: theirs });
    assert.equal(stolen.statusCode, 400);
    assert.match(stolen.json().error.message, /does not belong to your account/);
    const unknown = await mallory.postJson('/card', { setup_intent: 'seti_000000000000000000000000' });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().error.message, stolen.json().error.message, 'the same answer: nothing learned');
    const mine = ((await mallory.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;
    const unconfirmed = await mallory.postJson('/card', { setup_intent: mine });
    assert.equal(unconfirmed.statusCode, 409);
    assert.match(unconfirmed.json().error.message, /has not confirmed this card/);
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.cards where account_id = 'acct-card-4'`);
    assert.equal(rowCount, 0);
  });

  test('a malformed setup intent id is a 400 naming the field', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-6'));
    const res = await b.postJson('/card', { setup_intent: 'pi_123' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.message, 'setup_intent: must be a setup intent id (seti_…)');
  });

  test('the gateway being down is a 502 with a helpful message, and nothing is stored', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-7'));
    w.gateway.down = true;
    try {
      const res = await b.postJson('/card/setup-intents', {});
      assert.equal(res.statusCode, 502);
      assert.match(res.json().error.message, /payment gateway is not answering/);
      assert.match(w.log.lines.join('\n'), /event=gateway.error error_class=StripeConnectionError/);
    } finally {
      w.gateway.down = false;
    }
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.customers where account_id = 'acct-card-7'`);
    assert.equal(rowCount, 0);
  });

  test('a session that ended mid-form gets a 401 saying the card was not saved and the way back, and nothing is counted', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-card-8'));
    await w.db.pool.query(`update cc_forms.sessions set expires_at = now() - interval '1 second' where account_id = 'acct-card-8'`);
    for (const [url, body] of [
      ['/card/setup-intents', {}],
      ['/card', { setup_intent: 'seti_abc' }],
    ] as const) {
      const res = await b.postJson(url, body);
      assert.equal(res.statusCode, 401, url);
      assert.match(res.json().error.message, /ended before your card was saved, so it was not saved\..*new sign-in link/);
    }
    const { rowCount } = await w.db.pool.query(`select 1 from cc_forms.card_attempts where account_id = 'acct-card-8'`);
    assert.equal(rowCount, 0);
  });

  test('no client secret reaches the logs', async () => {
    const lines = w.log.lines.join('\n');
    assert.ok(w.gateway.setupIntents.size > 0, 'the tests above opened setup intents');
    for (const si of w.gateway.setupIntents.values()) assert.ok(!lines.includes(si.clientSecret));
  });
});

describe('the card attempts rate limit', () => {
  let w: World;
  before(async () => {
    w = await world({ attemptsPerHour: 3 });
  });
  after(async () => {
    await w?.close();
  });

  test('the attempt past CARD_ATTEMPTS_PER_HOUR is a 429 with Retry-After and a message saying when to retry', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-rate-1'));
    for (let i = 0; i < 3; i++) assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 201);
    const res = await b.postJson('/card/setup-intents', {});
    assert.equal(res.statusCode, 429);
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(retryAfter > 3590 && retryAfter <= 3600, String(retryAfter));
    assert.match(
      res.json().error.message,
      /^You have tried 3 cards in the last hour, .* Please try again in 60 minutes\. Nothing was saved\.$/,
    );
    assert.equal(w.gateway.setupIntents.size, 3, 'no setup intent for the refused attempt');
    assert.match(w.log.lines.join('\n'), /event=card.rate_limited account_id=acct-rate-1 retry_after_s=\d+/);
  });

  test('the limit is per account, survives a restart (it is in PostgreSQL), and frees up as attempts age past the hour', async () => {
    const other = await signIn(w, await accountToken(w, 'acct-rate-2'));
    assert.equal((await other.postJson('/card/setup-intents', {})).statusCode, 201);
    await w.restart();
    const b = await signIn(w, await accountToken(w, 'acct-rate-1'));
    assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 429);
    await w.db.pool.query(
      `update cc_forms.card_attempts set at = at - interval '61 minutes'
       where id = (select min(id) from cc_forms.card_attempts where account_id = 'acct-rate-1')`,
    );
    assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 201);
    assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 429);
  });

  test('concurrent attempts cannot overshoot the limit', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-rate-3'));
    const answers = await Promise.all(Array.from({ length: 12 }, () => b.postJson('/card/setup-intents', {})));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [201, 201, 201, ...Array(9).fill(429)]);
  });
});
