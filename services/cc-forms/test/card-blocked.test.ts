// A card reported stolen is refused at the form: invoicing blocks a card charged back as fraud by its
// payment method and fingerprint (invoicing.blocked_payment_methods, published to cc-forms as
// invoicing.blocked_cards, its migration 034). Typed in again, the same card was saved ("card saved")
// and refused only at the next charge. A real PostgreSQL with both apps' migrations; the blocks are
// written as invoicing's dispute-block.ts writes them. The fake gateway here; the SDK's detach against
// the real sandbox at the end.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import type pg from 'pg';
import { CARD_BLOCKED_MESSAGE } from '../src/cards/blocked.ts';
import type { CardGateway } from '../src/cards/gateway.ts';
import { gatewayRequestsDuring, startSandbox, type Sandbox } from './sandbox.ts';
import { accountToken, type Browser, INVOICING_MIGRATIONS, signIn, world, type World } from './world.ts';

/** A fraud block as invoicing's dispute-block.ts writes it (another account's dispute unless said). */
async function block(pool: pg.Pool, b: { pm: string; fingerprint?: string | null; account?: string }): Promise<void> {
  await pool.query(
    `insert into invoicing.blocked_payment_methods (payment_method_id, fingerprint, account_id, dispute_id, reason, blocked_at)
     values ($1, $2, $3, 'dp_' || md5($1), 'fraudulent', now())`,
    [b.pm, b.fingerprint ?? null, b.account ?? 'acct-disputed'],
  );
}

const openSetup = async (b: Browser) =>
  ((await b.postJson('/card/setup-intents', {})).json().client_secret as string).split('_secret_')[0]!;

const onFile = async (pool: pg.Pool, account: string) =>
  (await pool.query(`select payment_method_id, last4, added_at, fingerprint from cc_forms.cards_on_file where account_id = $1`, [account]))
    .rows[0];

describe('a card reported stolen is refused at the form (invoicing.blocked_cards)', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(async () => {
    await w?.close();
  });

  test('the blocked fingerprint typed in again (a new payment method) is refused 422: not saved, the card on file and the gateway default stay, detached at the gateway, logged without the fingerprint', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-blk-1'));
    const first = await openSetup(b);
    const good = w.gateway.confirm(first, { last4: '4242', fingerprint: 'fp_good_1' });
    assert.equal((await b.postJson('/card', { setup_intent: first })).statusCode, 200);
    const before = await onFile(w.db.pool, 'acct-blk-1');
    await block(w.db.pool, { pm: 'pm_charged_back_1', fingerprint: 'fp_stolen_1' });

    const si = await openSetup(b);
    const stolen = w.gateway.confirm(si, { brand: 'mastercard', last4: '0341', fingerprint: 'fp_stolen_1' });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 422);
    // Its own code (not the generic setup_refused), the page's words unchanged.
    assert.deepEqual(res.json(), { error: { code: 'card_blocked', message: CARD_BLOCKED_MESSAGE } });
    assert.equal(CARD_BLOCKED_MESSAGE, 'This card cannot be used for payments here. Nothing was saved: please use a different card.');
    assert.doesNotMatch(CARD_BLOCKED_MESSAGE, /fraud|stolen|report|account|bank/i, 'no word of why, or of another account');

    assert.deepEqual(await onFile(w.db.pool, 'acct-blk-1'), before, 'the card on file stays, added_at unmoved');
    assert.equal(before.payment_method_id, good);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-blk-1')!;
    assert.equal(customer.defaultPaymentMethod, good, 'the gateway’s default is not moved to it');
    assert.deepEqual(w.gateway.detached, [stolen], 'taken off the customer at the gateway');
    assert.equal(w.gateway.paymentMethods.get(stolen)!.customerId, undefined);
    const page = await b.get('/card');
    assert.match(page.body, /<span data-card-summary>Visa •••• 4242<\/span>/);

    const log = w.log.lines.join('\n');
    assert.match(
      log,
      new RegExp(
        `at=warn event=card.blocked_refused account_id=acct-blk-1 setup_intent_id=${si} payment_method_id=${stolen} by=fingerprint detached=yes count#card.blocked_refused=1`,
      ),
    );
    assert.doesNotMatch(log, /fp_stolen_1/, 'the fingerprint never reaches the logs');
    assert.doesNotMatch(log, new RegExp(`event=card.added [^\\n]*payment_method_id=${stolen}`));

    // Posted again (a retried request): refused the same, nothing detached twice, still not saved.
    const again = await b.postJson('/card', { setup_intent: si });
    assert.equal(again.statusCode, 422);
    assert.deepEqual(again.json(), { error: { code: 'card_blocked', message: CARD_BLOCKED_MESSAGE } });
    assert.deepEqual(w.gateway.detached, [stolen]);
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(`event=card.blocked_refused account_id=acct-blk-1 setup_intent_id=${si} .*detached=no`),
    );
    assert.deepEqual(await onFile(w.db.pool, 'acct-blk-1'), before);
  });

  test('a blocked payment method (a block from before fingerprints: none) is refused, on an account with no card yet: still none', async () => {
    const b = await signIn(w, await accountToken(w, 'acct-blk-2'));
    const si = await openSetup(b);
    const pm = w.gateway.confirm(si, { last4: '1111', fingerprint: 'fp_unblocked_2' });
    await block(w.db.pool, { pm, fingerprint: null, account: 'acct-blk-2' });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.message, CARD_BLOCKED_MESSAGE);
    assert.equal(await onFile(w.db.pool, 'acct-blk-2'), undefined);
    const customer = [...w.gateway.customers.values()].find((c) => c.accountId === 'acct-blk-2')!;
    assert.equal(customer.defaultPaymentMethod, undefined);
    assert.match((await b.get('/card')).body, /No card on file yet\./);
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(`event=card.blocked_refused account_id=acct-blk-2 .*payment_method_id=${pm} by=payment_method`),
    );
  });

  test('an unblocked card saves as ever, beside blocks of other cards; a card whose block is lifted (its rows deleted) saves', async () => {
    await block(w.db.pool, { pm: 'pm_charged_back_3', fingerprint: 'fp_stolen_3' });
    const b = await signIn(w, await accountToken(w, 'acct-blk-3'));
    const si = await openSetup(b);
    const pm = w.gateway.confirm(si, { last4: '5556', fingerprint: 'fp_clean_3' });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().card.last4, '5556');
    assert.equal((await onFile(w.db.pool, 'acct-blk-3')).payment_method_id, pm);

    // The operator lifts the block (README: delete its rows): the card typed in again is saved.
    await w.db.pool.query(`delete from invoicing.blocked_payment_methods where fingerprint = 'fp_stolen_3'`);
    const next = await openSetup(b);
    const lifted = w.gateway.confirm(next, { last4: '0005', fingerprint: 'fp_stolen_3' });
    assert.equal((await b.postJson('/card', { setup_intent: next })).statusCode, 200);
    assert.deepEqual(
      { ...(await onFile(w.db.pool, 'acct-blk-3')), added_at: undefined },
      { payment_method_id: lifted, last4: '0005', added_at: undefined, fingerprint: 'fp_stolen_3' },
    );
    assert.doesNotMatch(w.log.lines.join('\n'), /event=card.blocked_refused account_id=acct-blk-3/);
  });

  test('invoicing.blocked_cards publishes exactly payment_method_id and fingerprint: no account, no dispute', async () => {
    const view = await w.db.pool.query('select * from invoicing.blocked_cards limit 0');
    assert.deepEqual(
      view.fields.map((f) => f.name),
      ['payment_method_id', 'fingerprint'],
    );
  });
});

describe('invoicing’s view not in the database yet (cc-forms migrated and running first)', () => {
  let w: World;
  before(async () => {
    w = await world();
    // Invoicing at its migration 033: as if its 034 had not run yet.
    await w.db.pool.query('drop view invoicing.blocked_cards');
    await w.db.pool.query(`delete from invoicing.schema_migrations where name = '034_blocked_cards_view.sql'`);
  });
  after(async () => {
    await w?.close();
  });

  test('a blocked card is saved as before, said once (warn); once invoicing migrates, the next one is refused without a restart', async () => {
    await block(w.db.pool, { pm: 'pm_charged_back_m', fingerprint: 'fp_stolen_m' });
    const b = await signIn(w, await accountToken(w, 'acct-blk-m'));
    for (const last4 of ['0341', '0342']) {
      const si = await openSetup(b);
      const pm = w.gateway.confirm(si, { last4, fingerprint: 'fp_stolen_m' });
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 200, 'saved as today, no crash');
      assert.equal((await onFile(w.db.pool, 'acct-blk-m')).payment_method_id, pm);
    }
    const said = () => w.log.lines.filter((l) => l.includes('event=card.blocked_check_unavailable'));
    assert.equal(said().length, 1, 'said once, not at every finish');
    assert.match(said()[0]!, /at=warn event=card.blocked_check_unavailable view=invoicing.blocked_cards reason=/);
    assert.deepEqual(w.gateway.detached, []);

    await migrate(w.db.pool, 'invoicing', INVOICING_MIGRATIONS);
    const si = await openSetup(b);
    w.gateway.confirm(si, { last4: '0343', fingerprint: 'fp_stolen_m' });
    const res = await b.postJson('/card', { setup_intent: si });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.message, CARD_BLOCKED_MESSAGE);
    assert.equal((await onFile(w.db.pool, 'acct-blk-m')).last4, '0342', 'the card on file stays');
    assert.match(w.log.lines.join('\n'), /at=info event=card.blocked_check_ready view=invoicing.blocked_cards/);
    assert.equal(said().length, 1);
  });
});

describe('a blocked card refused over the real gateway sandbox (the SDK’s detach)', () => {
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

  /** What the customer's browser does: a payment method of the number, then the setup intent confirmed with it. */
  async function typedIn(b: Browser, number: string): Promise<{ si: string; pm: string }> {
    const res = await b.postJson('/card/setup-intents', {});
    const secret = res.json().client_secret as string;
    const si = secret.split('_secret_')[0]!;
    const pm = await sb.browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await sb.browser.setupIntents.confirm(si, { payment_method: pm.id, client_secret: secret } as never);
    return { si, pm: pm.id };
  }

  test('the same number on another account after its block: 422, the card detached from that customer at the gateway, its default not set', async () => {
    const victim = await signIn(w, await accountToken(w, 'acct-blk-sb-1'));
    const saved = await typedIn(victim, '4000056655665556');
    assert.equal((await victim.postJson('/card', { setup_intent: saved.si })).statusCode, 200);
    const fp = (await onFile(w.db.pool, 'acct-blk-sb-1')).fingerprint as string;
    assert.match(fp, /^[A-Za-z0-9]{16}$/, 'the sandbox’s fingerprint, stored');
    await block(w.db.pool, { pm: saved.pm, fingerprint: fp, account: 'acct-blk-sb-1' });

    const thief = await signIn(w, await accountToken(w, 'acct-blk-sb-2'));
    const again = await typedIn(thief, '4000056655665556');
    let res: Awaited<ReturnType<Browser['postJson']>> | undefined;
    const requests = await gatewayRequestsDuring(sb, async () => {
      res = await thief.postJson('/card', { setup_intent: again.si });
    });
    assert.equal(res!.statusCode, 422);
    assert.equal(res!.json().error.message, CARD_BLOCKED_MESSAGE);
    assert.deepEqual(requests, ['GET /v1/setup_intents/:id', 'GET /v1/payment_methods/:id', 'POST /v1/payment_methods/:id/detach']);
    const pm = await sb.stripe.paymentMethods.retrieve(again.pm);
    assert.equal(pm.customer, null, 'detached at the gateway');
    const { rows } = await w.db.pool.query<{ customer_id: string }>(
      `select customer_id from cc_forms.customers where account_id = 'acct-blk-sb-2'`,
    );
    const customer = await sb.stripe.customers.retrieve(rows[0]!.customer_id);
    assert.ok(!('deleted' in customer && customer.deleted));
    assert.equal((customer as { invoice_settings: { default_payment_method: unknown } }).invoice_settings.default_payment_method, null);
    assert.equal(await onFile(w.db.pool, 'acct-blk-sb-2'), undefined);
    assert.match(w.log.lines.join('\n'), /event=card.blocked_refused account_id=acct-blk-sb-2 .*by=fingerprint detached=yes/);
  });
});
