// The 422 of a card reported stolen tells a signed-in account that this card is blocked here: a card
// tester could post card after card and sort them by it. Each refusal is now counted per account
// (cc_forms.blocked_refusals, committed before the answer), and after BLOCKED_REFUSALS_PER_HOUR (2) in
// an hour the account's next card setup is a 429 with Retry-After, before any gateway call: neither a
// new setup intent nor a card checked. Through the app in process, a real PostgreSQL, the fake gateway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { CARD_BLOCKED_MESSAGE } from '../src/cards/blocked.ts';
import { BLOCKED_REFUSALS_PER_HOUR } from '../src/cards/blocked-refusals.ts';
import { accountToken, type Browser, signIn, world, type World } from './world.ts';

/** A fraud block as invoicing's dispute-block.ts writes it (another account's dispute). */
const block = (pool: pg.Pool, fingerprint: string) =>
  pool.query(
    `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
     values ('pm_charged_back_' || $1, $1, 'acct-disputed', 'dp_' || md5($1), 'fraudulent', now())`,
    [fingerprint],
  );

const openSetup = async (b: Browser) =>
  ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;

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
    await block(w.db.pool, 'fp_stolen_p');
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
    w.gateway.confirm(two, { last4: '0342', fingerprint: 'fp_stolen_p' });
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
        /^You have tried 2 cards that cannot be used for payments here in the last hour, the most we allow to protect your account\. Please try again in (59|60) minutes\. Nothing was saved\.$/,
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
    assert.doesNotMatch(log, /fp_stolen_p|fp_clean_p/, 'never a fingerprint');

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

  test('concurrent finishes past the first check answer at most 2 refusals: the one that finds the limit reached is a 429', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-probe-4'));
    const first = await openSetup(b);
    w.gateway.confirm(first, { last4: '0341', fingerprint: 'fp_stolen_p' });
    assert.equal((await b.postJson('/card', { setup_intent: first })).statusCode, 422);
    const racing = [await openSetup(b), await openSetup(b)];
    const pms = racing.map((si, i) => w.gateway.confirm(si, { last4: `034${i + 2}`, fingerprint: 'fp_stolen_p' }));
    // Both past the limit's check before either is counted: each waits at the gateway for the other.
    const { paymentMethod } = w.gateway;
    let arrived = 0;
    let bothThere = () => {};
    const there = new Promise<void>((resolve) => (bothThere = resolve));
    w.gateway.paymentMethod = async (pmId) => {
      if (pms.includes(pmId) && ++arrived === 2) bothThere();
      await there;
      return paymentMethod(pmId);
    };
    let answers: Awaited<ReturnType<Browser['postJson']>>[];
    try {
      answers = await Promise.all(racing.map((si) => b.postJson('/card', { setup_intent: si })));
    } finally {
      w.gateway.paymentMethod = paymentMethod;
    }
    assert.deepEqual(answers.map((r) => r.statusCode).sort(), [422, 429]);
    const limited = answers.find((r) => r.statusCode === 429)!;
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(await count(w.db.pool, 'blocked_refusals', 'acct-probe-4'), 2);
    assert.equal(await count(w.db.pool, 'cards', 'acct-probe-4'), 0);
    for (const pm of pms) assert.ok(w.gateway.detached.includes(pm), 'both detached all the same');
  });
});
