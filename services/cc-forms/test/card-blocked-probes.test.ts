// The 422 of a card reported stolen tells a signed-in account that this card is blocked here: a card
// tester could post card after card and sort them by it. Each different card refused is now counted
// per account (cc_forms.blocked_refusals, committed before the answer), and after
// BLOCKED_REFUSALS_PER_HOUR (2) in an hour the account's next card setup is a 429 with Retry-After,
// before any gateway call: neither a new setup intent nor a card checked. Finishes posted at once,
// all past that check before any refusal is counted, are decided one at a time with their card's
// check: past the limit every one is the same 429, clean or blocked. The same card typed in again is
// not counted again (an honest retry). Through the app in process, a real PostgreSQL, the fake gateway.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { CARD_BLOCKED_MESSAGE } from '../src/cards/blocked.ts';
import { BLOCKED_REFUSALS_PER_HOUR, refusedCardKey } from '../src/cards/blocked-refusals.ts';
import { accountToken, type Browser, signIn, world, type World } from './world.ts';

/** A fraud block as invoicing's dispute-block.ts writes it (another account's dispute). */
const block = (pool: pg.Pool, fingerprint: string) =>
  pool.query(
    `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
     values ('pm_charged_back_' || $1, $1, 'acct-disputed', 'dp_' || md5($1), 'fraudulent', now())`,
    [fingerprint],
  );

const openSetup = async (b: Browser) => {
  const res = await b.postJson('/card/setup-intents', {});
  assert.equal(res.statusCode, 201, `a setup intent opened: ${res.body}`);
  return (res.json().client_secret as string).split('_secret_')[0]!;
};

const count = async (pool: pg.Pool, table: string, account: string) =>
  Number((await pool.query(`select count(*) as n from cc_forms.${table} where account_id = $1`, [account])).rows[0].n);

/** The gateway's calls during `fn` (the fake gateway's methods, by name). */
async function gatewayCalls(w: World, fn: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const names = ['createCustomer', 'createSetupIntent', 'setupIntent', 'paymentMethod', 'makeDefault', 'detach'] as const;
  const saved = names.map((n) => [n, w.gateway[n]] as const);
  for (const [n, f] of saved) {
    (w.gateway as unknown as Record<string, unknown>)[n] = (...args: unknown[]) => {
      calls.push(n);
      return (f as (...a: unknown[]) => unknown)(...args);
    };
  }
  try {
    await fn();
  } finally {
    for (const [n, f] of saved) (w.gateway as unknown as Record<string, unknown>)[n] = f;
  }
  return calls;
}

describe('a card tester probing which cards are blocked is stopped after 2 refusals an hour', () => {
  let w: World;
  before(async () => {
    w = await world();
    for (const fp of ['fp_stolen_p', 'fp_stolen_q', 'fp_stolen_s', 'fp_stolen_t']) await block(w.db.pool, fp);
  });
  after(async () => {
    await w?.close();
  });

  test('2 blocked cards refused 422 (card_blocked), counted and committed; the 3rd setup is a 429 with Retry-After before any gateway call, at start and at finish; an unblocked card too; logged without a card', async () => {
    assert.equal(BLOCKED_REFUSALS_PER_HOUR, 2);
    const b = await signIn(w, await accountToken(w, 'acct-probe-1'));
    const opened = [await openSetup(b), await openSetup(b), await openSetup(b)];
    const [one, two, three] = opened as [string, string, string];
    w.gateway.confirm(one, { last4: '0341', fingerprint: 'fp_stolen_p' });
    w.gateway.confirm(two, { last4: '0342', fingerprint: 'fp_stolen_q' });
    w.gateway.confirm(three, { last4: '4242', fingerprint: 'fp_clean_p' });
    // The same refused setup intent posted again (a retried request) learns nothing new: not counted twice.
    for (const si of [one, one, two]) {
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json(), { error: { code: 'card_blocked', message: CARD_BLOCKED_MESSAGE } });
    }
    assert.equal(await count(w.db.pool, 'blocked_refusals', 'acct-probe-1'), 2);

    const attempts = await count(w.db.pool, 'card_attempts', 'acct-probe-1');
    let finished: Awaited<ReturnType<Browser['postJson']>> | undefined;
    let started: Awaited<ReturnType<Browser['postJson']>> | undefined;
    const calls = await gatewayCalls(w, async () => {
      // Opened before the limit was reached, confirmed with a card that is not even blocked: not asked about.
      finished = await b.postJson('/card', { setup_intent: three });
      started = await b.postJson('/card/setup-intents', {});
    });
    assert.deepEqual(calls, [], 'no gateway call: the card is not checked, no setup intent opened');
    for (const res of [finished!, started!]) {
      assert.equal(res.statusCode, 429, res.body);
      const retry = Number(res.headers['retry-after']);
      assert.ok(retry > 3500 && retry <= 3600, `Retry-After ${res.headers['retry-after']}: when the first refusal leaves the hour`);
      assert.equal(res.json().error.code, 'rate_limited');
      assert.match(
        res.json().error.message,
        /^You have tried 2 different cards that cannot be used for payments here in the last hour, the most we allow to protect your account\. Please try again in (59|60) minutes\. Nothing was saved\.$/,
      );
    }
    assert.equal(await count(w.db.pool, 'card_attempts', 'acct-probe-1'), attempts, 'the refused start counts no attempt');
    assert.equal(await count(w.db.pool, 'cards', 'acct-probe-1'), 0);
    const log = w.log.lines.join('\n');
    assert.match(
      log,
      new RegExp(
        `at=warn event=card.blocked_refusals_limited account_id=acct-probe-1 setup_intent_id=${three} retry_after_s=\\d+ count#card.blocked_refusals_limited=1`,
      ),
    );
    assert.match(
      log,
      /at=warn event=card.blocked_refusals_limited account_id=acct-probe-1 step=start retry_after_s=\d+ count#card.blocked_refusals_limited=1/,
    );
    assert.equal((log.match(/event=card.blocked_refused account_id=acct-probe-1 .*count#card.blocked_refused=1/g) ?? []).length, 3);
    assert.doesNotMatch(log, /fp_stolen_p|fp_stolen_q|fp_clean_p/, 'never a fingerprint');

    // Durable: a restart changes nothing. Another account is not held back.
    await w.restart();
    assert.equal((await b.postJson('/card/setup-intents', {})).statusCode, 429);
    const other = await signIn(w, await accountToken(w, 'acct-probe-2'));
    assert.equal((await other.postJson('/card/setup-intents', {})).statusCode, 201);

    // An hour after the first refusal one more card may be checked (and this one saves).
    await w.db.pool.query(
      `update cc_forms.blocked_refusals set at = at - interval '1 hour' where account_id = 'acct-probe-1' and setup_intent_id = $1`,
      [one],
    );
    const res = await b.postJson('/card', { setup_intent: three });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().card.last4, '4242');
  });

  test('the refusal is committed before the answer: a finish that dies after it (the detach throws) has counted it', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-probe-3'));
    const si = await openSetup(b);
    w.gateway.confirm(si, { last4: '0341', fingerprint: 'fp_stolen_p' });
    const { detach } = w.gateway;
    w.gateway.detach = async () => {
      throw new Error('the process dies here');
    };
    try {
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 500);
    } finally {
      w.gateway.detach = detach;
    }
    assert.equal(await count(w.db.pool, 'blocked_refusals', 'acct-probe-3'), 1);
  });

  test('the probe posted at once (6 finishes, 4 blocked, 2 clean, all past the first check): once 2 refusals are counted every later answer is the same 429, clean cards included; the 429s are not checked nor detached', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-probe-4'));
    const cards = [
      { fingerprint: 'fp_stolen_p', blocked: true },
      { fingerprint: 'fp_clean_p1', blocked: false },
      { fingerprint: 'fp_stolen_q', blocked: true },
      { fingerprint: 'fp_stolen_s', blocked: true },
      { fingerprint: 'fp_clean_p2', blocked: false },
      { fingerprint: 'fp_stolen_t', blocked: true },
    ];
    const opened: string[] = [];
    for (const _ of cards) opened.push(await openSetup(b));
    const pms = cards.map((c, i) => w.gateway.confirm(opened[i]!, { last4: `03${40 + i}`, fingerprint: c.fingerprint }));
    // All six wait at the gateway's read of their card, past the limit's first check. The blocked
    // ones' reads answer first; the clean ones' only once 2 refusals are committed (the gateway's
    // reads end in any order: this is one of them).
    const { paymentMethod } = w.gateway;
    let arrived = 0;
    let allThere = () => {};
    const there = new Promise<void>((resolve) => (allThere = resolve));
    let twoCounted = () => {};
    const counted = new Promise<void>((resolve) => (twoCounted = resolve));
    w.gateway.paymentMethod = async (pmId) => {
      const i = pms.indexOf(pmId);
      if (i >= 0) {
        if (++arrived === cards.length) allThere();
        await there;
        if (!cards[i]!.blocked) await counted;
      }
      return paymentMethod(pmId);
    };
    let answers: Awaited<ReturnType<Browser['postJson']>>[];
    try {
      const posted = Promise.all(opened.map((si) => b.postJson('/card', { setup_intent: si })));
      await there;
      for (let i = 0; i < 400 && (await count(w.db.pool, 'blocked_refusals', 'acct-probe-4')) < 2; i++) await delay(10);
      twoCounted();
      answers = await posted;
    } finally {
      w.gateway.paymentMethod = paymentMethod;
    }
    const codes = answers.map((r) => r.statusCode);
    assert.equal(codes.filter((c) => c === 422).length, 2, codes.join(' '));
    assert.ok(
      codes.every((c, i) => c === 429 || (c === 422 && cards[i]!.blocked)),
      `only the 2 counted blocked cards are 422, every other one 429: ${codes.join(' ')}`,
    );
    assert.deepEqual(
      cards.map((c, i) => (c.blocked ? 'blocked' : codes[i])),
      cards.map((c) => (c.blocked ? 'blocked' : 429)),
      'the clean cards are 429 as the blocked ones past the limit: the answers no longer sort the cards',
    );
    const limited = answers.filter((r) => r.statusCode === 429);
    assert.equal(new Set(limited.map((r) => r.json().error.message)).size, 1, 'the same 429 for every card');
    for (const r of limited) assert.ok(Number(r.headers['retry-after']) > 0);
    assert.equal(await count(w.db.pool, 'blocked_refusals', 'acct-probe-4'), 2);
    assert.equal(await count(w.db.pool, 'cards', 'acct-probe-4'), 0);
    const refused = pms.filter((_, i) => codes[i] === 422);
    assert.deepEqual(
      pms.filter((pm) => w.gateway.detached.includes(pm)),
      refused,
      'the 422s detached; the 429s not checked, so not detached',
    );
  });

  test('the same blocked card typed in again (3 setup intents) counts once: a good card then saves; a 2nd different blocked card reaches the limit, "2 different cards"; the table holds no fingerprint', async () => {
    const account = 'acct-probe-5';
    const b = await signIn(w, await accountToken(w, account));
    for (let i = 0; i < 3; i++) {
      const si = await openSetup(b);
      w.gateway.confirm(si, { last4: '0341', fingerprint: 'fp_stolen_p' });
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().error.code, 'card_blocked');
    }
    assert.equal(await count(w.db.pool, 'blocked_refusals', account), 1, 'one card, counted once');
    const good = await openSetup(b);
    w.gateway.confirm(good, { last4: '4242', fingerprint: 'fp_good_p5' });
    const saved = await b.postJson('/card', { setup_intent: good });
    assert.equal(saved.statusCode, 200, saved.body);
    assert.equal(saved.json().card.last4, '4242');

    const other = await openSetup(b);
    w.gateway.confirm(other, { last4: '0342', fingerprint: 'fp_stolen_q' });
    assert.equal((await b.postJson('/card', { setup_intent: other })).statusCode, 422);
    const limited = await b.postJson('/card/setup-intents', {});
    assert.equal(limited.statusCode, 429);
    assert.match(limited.json().error.message, /^You have tried 2 different cards that cannot be used for payments here in the last hour/);

    const rows = (await w.db.pool.query(`select card from cc_forms.blocked_refusals where account_id = $1 order by at`, [account])).rows;
    const key = (fingerprint: string) => createHash('sha256').update(`${account}\nfingerprint:${fingerprint}`).digest('hex');
    assert.deepEqual(
      rows.map((r) => r.card),
      [key('fp_stolen_p'), key('fp_stolen_q')],
      'the sha256 of the account and the card',
    );
    assert.doesNotMatch(JSON.stringify(rows), /fp_stolen/);
    // Per account, and by payment method when the gateway gives no fingerprint.
    const pm = { id: 'pm_x', customerId: undefined, brand: 'visa', last4: '0341', expMonth: 1, expYear: 2030 };
    assert.notEqual(refusedCardKey('acct-a', { ...pm, fingerprint: 'fp_x' }), refusedCardKey('acct-b', { ...pm, fingerprint: 'fp_x' }));
    assert.equal(
      refusedCardKey('acct-a', { ...pm, fingerprint: 'fp_x' }),
      refusedCardKey('acct-a', { ...pm, id: 'pm_y', fingerprint: 'fp_x' }),
    );
    assert.notEqual(refusedCardKey('acct-a', pm), refusedCardKey('acct-a', { ...pm, id: 'pm_y' }));
  });
});
