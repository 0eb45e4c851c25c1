// Cards saved before migration 007 have no fingerprint, so invoicing blocked one charged back as
// fraud by its payment method alone, and the same card typed in again was charged. cc-forms now
// reads each one's fingerprint from the gateway in a background pass (cards/fingerprint-backfill.ts):
// a few a tick, compare-and-set on the payment method (a card replaced meanwhile keeps its own), a
// payment method the gateway says is gone left null and asked again only much later, each read
// claimed before it is sent (a kill mid-pass loses nothing). The real sandbox as a process through
// the official SDK, real PostgreSQL; the app itself as a process for its start and stop.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import { gatewayClient } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import {
  eventually,
  freePort,
  freshDatabase,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type TestDatabase,
} from '@vault/testkit';
import { backfillFingerprints, type FingerprintReader, startFingerprintBackfill } from '../src/cards/fingerprint-backfill.ts';
import { readCardFingerprint } from '../src/cards/gateway.ts';
import { saveCard } from '../src/cards/store.ts';
import { gatewayRequestsDuring, type Sandbox, startSandbox } from './sandbox.ts';
import { CC_FORMS_MIGRATIONS } from './world.ts';

describe('cards saved before migration 007 get their fingerprint from the gateway (real sandbox, real PostgreSQL)', () => {
  let sb: Sandbox;
  let db: TestDatabase;
  const log = memoryLogger();
  const read: FingerprintReader = (pm) => readCardFingerprint(sb.stripe, pm);
  /** The payment methods `counted` was asked about, in order. */
  const readOf: string[] = [];
  const counted: FingerprintReader = (pm) => {
    readOf.push(pm);
    return read(pm);
  };
  const tick = (reader: FingerprintReader = read, cardsPerTick = 5) =>
    backfillFingerprints({ pool: db.pool, log, read: reader, cardsPerTick });

  /** The account's gateway customer, made once, as cc-forms records it. */
  const customer = async (account: string) => {
    const known = await db.pool.query<{ c: string }>('select customer_id as c from cc_forms.customers where account_id = $1', [account]);
    if (known.rows[0]) return known.rows[0].c;
    const made = await sb.stripe.customers.create({ metadata: { account_id: account } });
    await db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', [account, made.id]);
    return made.id;
  };
  /** `number` typed into the card form for `account`: a payment method attached to its customer, and the gateway's fingerprint. */
  const typed = async (account: string, number: string) => {
    const pm = await sb.browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await sb.stripe.paymentMethods.attach(pm.id, { customer: await customer(account) });
    assert.ok(pm.card?.fingerprint);
    return { id: pm.id, fingerprint: pm.card.fingerprint };
  };
  /** The card on file as cc-forms saved it before 007 (no fingerprint); replaces the account's. */
  const savedBefore007 = async (account: string, pm: string) =>
    saveCard(db.pool, account, {
      customerId: await customer(account),
      paymentMethodId: pm,
      setupIntentId: `seti_${pm}`,
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2034,
    });
  const onFile = async (account: string) =>
    (
      await db.pool.query<{ payment_method_id: string; fingerprint: string | null }>(
        'select payment_method_id, fingerprint from cc_forms.cards where account_id = $1',
        [account],
      )
    ).rows[0];
  const reads = async (pm: string) =>
    (
      await db.pool.query<{ tries: number; outcome: string; due_in_s: number }>(
        `select tries, outcome, round(extract(epoch from retry_at - now()))::int as due_in_s from cc_forms.card_fingerprint_reads where payment_method_id = $1`,
        [pm],
      )
    ).rows;
  const linesOf = (event: string) => log.lines.filter((l) => l.includes(`event=${event} `));

  before(async () => {
    sb = await startSandbox();
    db = await freshDatabase('ccf_fp_backfill');
    await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  });
  after(async () => {
    await sb?.close();
    await db?.drop();
  });

  test('a card saved before 007 (fingerprint null) gets its fingerprint; a card that has one is not read; the tick logs its counts', async () => {
    const old = await typed('acct-old', '4242424242424242');
    await savedBefore007('acct-old', old.id);
    const known = await typed('acct-known', '5555555555554444');
    await saveCard(db.pool, 'acct-known', {
      customerId: await customer('acct-known'),
      paymentMethodId: known.id,
      setupIntentId: `seti_${known.id}`,
      brand: 'mastercard',
      last4: '4444',
      expMonth: 12,
      expYear: 2034,
      fingerprint: known.fingerprint,
    });
    assert.equal((await onFile('acct-old'))?.fingerprint, null);

    const sent = await gatewayRequestsDuring(sb, () => tick(counted));
    assert.deepEqual(sent, ['GET /v1/payment_methods/:id'], 'one read at the gateway');
    assert.deepEqual(readOf, [old.id], 'of the card without one');
    assert.deepEqual(await onFile('acct-old'), { payment_method_id: old.id, fingerprint: old.fingerprint });
    assert.deepEqual(await onFile('acct-known'), { payment_method_id: known.id, fingerprint: known.fingerprint });
    assert.deepEqual(await reads(old.id), [], 'its attempt is done with');
    assert.match(linesOf('cards.fingerprint_filled').join('\n'), new RegExp(`account_id=acct-old payment_method=${old.id} tries=1`));
    assert.ok(
      log.lines.some((l) =>
        /^at=info event=cards\.fingerprint_backfill count#cards\.fingerprints_filled=1 count#cards\.fingerprints_gone=0 count#cards\.fingerprints_unread=0 count#cards\.fingerprints_replaced=0 left=0$/.test(
          l,
        ),
      ),
      log.lines.join('\n'),
    );

    // Nothing left: a tick reads nothing and says nothing.
    const before = log.lines.length;
    assert.deepEqual(await gatewayRequestsDuring(sb, () => tick(counted)), []);
    assert.equal(log.lines.length, before);
  });

  test("a card replaced while its payment method was read keeps its own fingerprint, never the old card's", async () => {
    const first = await typed('acct-swap', '2223003122003222');
    const second = await typed('acct-swap', '5200828282828210');
    assert.notEqual(first.fingerprint, second.fingerprint);
    await savedBefore007('acct-swap', first.id);
    // The customer saves another card (its fingerprint not given) while the gateway answers about the first.
    const replacing: FingerprintReader = async (pm) => {
      const answer = await read(pm);
      if (pm === first.id) await savedBefore007('acct-swap', second.id);
      return answer;
    };
    await tick(replacing, 1);
    assert.deepEqual(await onFile('acct-swap'), { payment_method_id: second.id, fingerprint: null }, "the first card's is not written");
    assert.match(linesOf('cards.fingerprint_replaced').join('\n'), new RegExp(`account_id=acct-swap payment_method=${first.id}`));
    await tick();
    assert.deepEqual(await onFile('acct-swap'), { payment_method_id: second.id, fingerprint: second.fingerprint }, 'its own, read next');
  });

  test('a payment method the gateway says is gone is left null, logged, and not asked again every tick (asked again after an hour, then two)', async () => {
    const gone = `pm_gone_${randomBytes(6).toString('hex')}`;
    await savedBefore007('acct-gone', gone);
    readOf.length = 0;
    const sent = await gatewayRequestsDuring(sb, async () => {
      for (let i = 0; i < 4; i++) await tick(counted);
    });
    assert.deepEqual(sent, ['GET /v1/payment_methods/:id'], 'one read at the gateway in four ticks');
    assert.deepEqual(readOf, [gone]);
    assert.equal((await onFile('acct-gone'))?.fingerprint, null);
    const [attempt] = await reads(gone);
    assert.equal(attempt?.tries, 1);
    assert.equal(attempt?.outcome, 'gone');
    assert.ok(attempt!.due_in_s > 3590 && attempt!.due_in_s <= 3600, JSON.stringify(attempt));
    const warned = linesOf('cards.fingerprint_gone');
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.match(
      warned[0]!,
      new RegExp(`^at=warn event=cards\\.fingerprint_gone account_id=acct-gone payment_method=${gone} tries=1 retry_in_s=3600`),
    );

    // An hour later it is asked again, and then waits twice as long.
    await db.pool.query(`update cc_forms.card_fingerprint_reads set retry_at = now() - interval '1 second' where payment_method_id = $1`, [
      gone,
    ]);
    readOf.length = 0;
    assert.deepEqual(await gatewayRequestsDuring(sb, () => tick(counted)), ['GET /v1/payment_methods/:id']);
    assert.deepEqual(readOf, [gone]);
    assert.deepEqual(
      (await reads(gone)).map((r) => [r.tries, r.outcome, r.due_in_s > 7190]),
      [[2, 'gone', true]],
    );
  });

  test('a gateway that does not answer: the tick stops at the first failure, the card is read again a minute later', async () => {
    const card = await typed('acct-down', '4000056655665556');
    const other = await typed('acct-down-2', '378282246310005');
    await savedBefore007('acct-down', card.id);
    await savedBefore007('acct-down-2', other.id);
    const calls: string[] = [];
    // Nothing listens there: the SDK's connection error, as a gateway that does not answer.
    const nowhere = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: TEST_GATEWAY_SECRET_KEY });
    const down: FingerprintReader = (pm) => {
      calls.push(pm);
      return readCardFingerprint(nowhere, pm);
    };
    await tick(down);
    assert.equal(calls.length, 1, 'one read, then the rest wait for the next tick');
    const [attempt] = await reads(calls[0]!);
    assert.deepEqual([attempt?.tries, attempt?.outcome], [1, 'unanswered']);
    assert.ok(attempt!.due_in_s > 50 && attempt!.due_in_s <= 60, JSON.stringify(attempt));
    assert.match(linesOf('cards.fingerprint_unread').join('\n'), /error_class=StripeConnectionError/);
    // The next tick goes on with the other card first; the failed one waits its minute.
    await tick();
    const filled = [await onFile('acct-down'), await onFile('acct-down-2')].filter((c) => c?.fingerprint !== null);
    assert.equal(filled.length, 1, JSON.stringify(filled));
    assert.notEqual(filled[0]!.payment_method_id, calls[0]);
    await db.pool.query(`update cc_forms.card_fingerprint_reads set retry_at = now() - interval '1 second' where payment_method_id = $1`, [
      calls[0],
    ]);
    await tick();
    assert.equal((await onFile('acct-down'))?.fingerprint, card.fingerprint, 'read again once due');
  });

  test('a kill mid-read loses nothing: the claimed card is read again once its claim lapses; the loop stops after the read in flight', async () => {
    const card = await typed('acct-kill', '6011111111111117');
    await savedBefore007('acct-kill', card.id);
    // The process dies while the gateway answers: the read never ends, nothing is written after it.
    void tick(() => new Promise<never>(() => {}), 1);
    await eventually('the read claimed', async () => (await reads(card.id))[0]?.outcome === 'reading');
    assert.deepEqual(await gatewayRequestsDuring(sb, () => tick()), [], 'claimed: a restart leaves it for the claim');
    await db.pool.query(`update cc_forms.card_fingerprint_reads set retry_at = now() - interval '1 second' where payment_method_id = $1`, [
      card.id,
    ]);
    await tick();
    assert.deepEqual(await onFile('acct-kill'), { payment_method_id: card.id, fingerprint: card.fingerprint });

    // Stopping: the read in flight ends and is written; no further card is claimed.
    const a = await typed('acct-stop-a', '4242424242424242');
    const b = await typed('acct-stop-b', '5555555555554444');
    await savedBefore007('acct-stop-a', a.id);
    await savedBefore007('acct-stop-b', b.id);
    let started!: () => void;
    const reading = new Promise<void>((r) => (started = r));
    const slow: FingerprintReader = async (pm) => {
      started();
      await new Promise((r) => setTimeout(r, 300));
      return read(pm);
    };
    const loop = startFingerprintBackfill({ pool: db.pool, log, read: slow }, { everyMs: 60_000 });
    await reading;
    await loop.stop();
    const cards = [await onFile('acct-stop-a'), await onFile('acct-stop-b')];
    assert.equal(cards.filter((c) => c?.fingerprint !== null).length, 1, JSON.stringify(cards));
    const claimed = await db.pool.query(`select payment_method_id from cc_forms.card_fingerprint_reads where outcome = 'reading'`);
    assert.deepEqual(claimed.rows, [], 'nothing claimed and left');
  });

  test('the app runs the pass from its start (a card saved before 007 filled), and SIGTERM stops it with exit 0', async () => {
    const card = await typed('acct-app', '4000002500003155');
    await savedBefore007('acct-app', card.id);
    const app = await startService('cc-forms', {
      DATABASE_URL: db.url,
      CC_FORMS_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      GATEWAY_URL: sb.url,
      GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    });
    try {
      await eventually(
        'the card filled by the running app',
        async () => (await onFile('acct-app'))?.fingerprint === card.fingerprint,
        15_000,
      );
      assert.ok(
        app.lines.some((l) => l.includes(`event=cards.fingerprint_filled account_id=acct-app payment_method=${card.id} tries=1`)),
        app.lines.join('\n'),
      );
      // The tick's summary is logged one query after the card is filled: wait for it, not assume it.
      await eventually(
        "the tick's summary",
        async () => app.lines.some((l) => l.includes('event=cards.fingerprint_backfill count#cards.fingerprints_filled=')),
        15_000,
      );
      const exited = new Promise<number | null>((r) => app.child.once('exit', (code) => r(code)));
      await app.kill('SIGTERM');
      assert.equal(await exited, 0, app.lines.join('\n'));
      assert.ok(app.lines.some((l) => l.includes('event=app.stopped')));
    } finally {
      await app.kill();
    }
  });
});
