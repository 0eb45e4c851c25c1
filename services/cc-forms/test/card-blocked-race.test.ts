// A card blocked between the form's check and its save. Finishing a setup asks invoicing.blocked_cards
// once the gateway has said the card, then (under the account's card lock) sets the gateway's default
// and saves the card. A block invoicing committed in between (a fraud dispute, any moment) was not seen:
// the card was saved, "card saved", and refused only at the next charge. Now the save is followed by the
// check again in the same transaction: the block is caught, the save rolled back, the gateway's default
// put back, the card detached, and the customer gets the 422. A real PostgreSQL; the block is inserted
// at the exact point: while the save waits on a row lock the test holds, or while the gateway's default
// is being set (the fake gateway's call, between the check and the save).
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { CARD_BLOCKED_MESSAGE } from '../src/cards/blocked.ts';
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

const onFile = async (pool: pg.Pool, account: string) =>
  (await pool.query(`select payment_method_id, last4, added_at from cc_forms.cards_on_file where account_id = $1`, [account])).rows[0];

/** Resolves once a backend of this database waits on a lock while writing cc_forms.cards: the save, held. */
async function saveWaitingOnLock(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rowCount } = await pool.query(
      `select 1 from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into cc_forms.cards %'`,
    );
    if (rowCount) return;
    await delay(25);
  }
  throw new Error('the save never waited on the held row lock');
}

describe('a card blocked between the check and the save is not left on file (real PostgreSQL)', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(async () => {
    await w?.close();
  });

  test('the block committed while the save waits on a row lock the test holds: 422 card_blocked, the card on file, its added_at and the gateway default stay, the card detached', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-race-1'));
    const first = await openSetup(b);
    const good = w.gateway.confirm(first, { last4: '4242', fingerprint: 'fp_good_r1' });
    assert.equal((await b.postJson('/card', { setup_intent: first })).statusCode, 200);
    const kept = await onFile(w.db.pool, 'acct-race-1');

    const si = await openSetup(b);
    const stolen = w.gateway.confirm(si, { brand: 'mastercard', last4: '0341', fingerprint: 'fp_stolen_r1' });
    // The account's cards row locked: the finish passes its check, sets the default, and waits at the save.
    const holder = await w.db.pool.connect();
    let answer: ReturnType<Browser['postJson']> | undefined;
    try {
      await holder.query('begin');
      await holder.query(`select 1 from cc_forms.cards where account_id = 'acct-race-1' for update`);
      answer = b.postJson('/card', { setup_intent: si });
      await saveWaitingOnLock(w.db.pool);
      await block(w.db.pool, 'fp_stolen_r1');
    } finally {
      await holder.query('commit');
      holder.release();
    }
    const res = await answer!;
    assert.equal(res.statusCode, 422, res.body);
    assert.deepEqual(res.json(), { error: { code: 'card_blocked', message: CARD_BLOCKED_MESSAGE } });

    assert.deepEqual(await onFile(w.db.pool, 'acct-race-1'), kept, 'the card on file stays, added_at unmoved');
    assert.equal(kept.payment_method_id, good);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-race-1')!;
    assert.equal(customer.defaultPaymentMethod, good, 'the gateway’s default is put back on the card on file');
    assert.deepEqual(w.gateway.detached, [stolen]);
    assert.match((await b.get('/card')).body, /<span data-card-summary>Visa •••• 4242<\/span>/);
    const log = w.log.lines.join('\n');
    assert.match(
      log,
      new RegExp(
        `at=warn event=card.blocked_refused account_id=acct-race-1 setup_intent_id=${si} payment_method_id=${stolen} by=fingerprint found=after_save default_restored=yes detached=yes count#card.blocked_refused=1`,
      ),
    );
    assert.doesNotMatch(log, new RegExp(`event=card.added [^\\n]*payment_method_id=${stolen}`));
    assert.doesNotMatch(log, /fp_stolen_r1/);
    const counted = await w.db.pool.query(`select setup_intent_id from cc_forms.blocked_refusals where account_id = 'acct-race-1'`);
    assert.deepEqual(counted.rows, [{ setup_intent_id: si }], 'counted as any blocked refusal');
  });

  test('the block committed while the gateway’s default is being set (between the check and the save), no card on file yet: 422, still none', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-race-2'));
    const si = await openSetup(b);
    const stolen = w.gateway.confirm(si, { last4: '1111', fingerprint: 'fp_stolen_r2' });
    const { makeDefault } = w.gateway;
    w.gateway.makeDefault = async (customerId, pmId) => {
      if (pmId === stolen) await block(w.db.pool, 'fp_stolen_r2');
      await makeDefault(customerId, pmId);
    };
    let res: Awaited<ReturnType<Browser['postJson']>>;
    try {
      res = await b.postJson('/card', { setup_intent: si });
    } finally {
      w.gateway.makeDefault = makeDefault;
    }
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().error.code, 'card_blocked');
    assert.equal(res.json().error.message, CARD_BLOCKED_MESSAGE);
    assert.equal(await onFile(w.db.pool, 'acct-race-2'), undefined, 'nothing on file');
    assert.match((await b.get('/card')).body, /No card on file yet\./);
    assert.ok(w.gateway.detached.includes(stolen), 'taken off the customer at the gateway');
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(
        `event=card.blocked_refused account_id=acct-race-2 setup_intent_id=${si} .*by=fingerprint found=after_save default_restored=no detached=yes`,
      ),
    );
  });

  test('no block in between: the card is saved as ever, checked twice, one card.added', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-race-3'));
    const si = await openSetup(b);
    const pm = w.gateway.confirm(si, { last4: '5556', fingerprint: 'fp_clean_r3' });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 200);
    assert.equal((await onFile(w.db.pool, 'acct-race-3')).payment_method_id, pm);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-race-3')!;
    assert.equal(customer.defaultPaymentMethod, pm);
    assert.equal(w.log.lines.filter((l) => l.includes('event=card.added account_id=acct-race-3')).length, 1);
  });
});
