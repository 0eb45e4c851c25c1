// The account's customer is created under its stored key; a 500 under that key is kept
// by the gateway and replayed to every retry for 24 h. Against the real sandbox (its 500
// injected by the test-only faultAfterWork switch): the next try succeeds, with one
// customer, the one the failed request made if it made one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSandbox, type Sandbox } from '../../gateway-sandbox/test/harness.ts';
import { startCardSetup, type CardDeps } from '../src/cards/service.ts';
import { GatewayUnavailable, sdkCardGateway } from '../src/cards/gateway.ts';
import { world, type World } from './world.ts';

describe("a 500 creating the account's gateway customer", () => {
  let sb: Sandbox;
  let w: World<ReturnType<typeof sdkCardGateway>>;
  let deps: CardDeps;
  /** Requests to this path fail once with an injected 500 (after the endpoint ran; rolled back). */
  let failOnce: string | null = null;
  before(async () => {
    sb = await startSandbox({
      faultAfterWork: (path) => {
        if (path !== failOnce) return;
        failOnce = null;
        throw new Error('injected fault');
      },
    });
    w = await world({ gateway: sdkCardGateway(sb.stripe) });
    deps = { pool: w.db.pool, gateway: w.gateway, attemptsPerHour: 10, log: w.log };
  });
  after(async () => {
    await w?.close();
    await sb?.close();
  });

  const customersOf = async (accountId: string) =>
    (await sb.stripe.customers.list({ limit: 100 })).data.filter((c) => c.metadata.account_id === accountId).map((c) => c.id);
  const keyOf = async (accountId: string) =>
    (await w.db.pool.query<{ key: string }>('select key from cc_forms.customer_keys where account_id = $1', [accountId])).rows[0]?.key;

  test('the next try succeeds under a new key, stored before it is sent; one customer', async () => {
    failOnce = '/v1/customers';
    await assert.rejects(startCardSetup(deps, 'acct-500'), (err: unknown) => {
      assert.ok(err instanceof GatewayUnavailable, String(err));
      assert.equal(err.statusCode, 500);
      return true;
    });
    // The key the gateway keeps the 500 under; the account's stored key is a new one already, before any retry.
    const { rows } = await sb.db.pool.query<{ key: string }>(
      `select key from gateway_sandbox.idempotency_keys where path = '/v1/customers' and status = 500`,
    );
    assert.equal(rows.length, 1);
    const renewed = await keyOf('acct-500');
    assert.ok(renewed && renewed !== rows[0]!.key, `renewed: ${renewed}`);
    assert.deepEqual(await customersOf('acct-500'), [], 'rolled back: none made');
    const started = await startCardSetup(deps, 'acct-500');
    assert.equal(started.kind, 'started');
    assert.equal(await keyOf('acct-500'), renewed, 'sent under the key stored before');
    const made = await customersOf('acct-500');
    assert.equal(made.length, 1, 'one customer');
    const stored = await w.db.pool.query('select customer_id from cc_forms.customers where account_id = $1', ['acct-500']);
    assert.equal(stored.rows[0]?.customer_id, made[0]);
    assert.ok(w.log.lines.some((l) => l.includes('event=card.customer_key_renewed') && l.includes('account_id=acct-500')));
  });

  test('a 500 whose request had made the customer: that customer is found (its customer.created names the key) and kept, no second', async () => {
    // What a 500 after the commit leaves: the customer, and its event under the account's key.
    await w.db.pool.query(`insert into cc_forms.customer_keys (account_id, key) values ('acct-made', 'customer-made-by-the-500')`);
    const made = await sb.stripe.customers.create(
      { description: 'The Vault account acct-made', metadata: { account_id: 'acct-made' } },
      { idempotencyKey: 'prepared-by-the-test' },
    );
    await sb.db.pool.query(
      `update gateway_sandbox.events set idempotency_key = 'customer-made-by-the-500' where type = 'customer.created' and data->'object'->>'id' = $1`,
      [made.id],
    );
    failOnce = '/v1/customers';
    const started = await startCardSetup(deps, 'acct-made');
    assert.equal(started.kind, 'started');
    assert.deepEqual(await customersOf('acct-made'), [made.id], 'no second customer');
    const stored = await w.db.pool.query('select customer_id from cc_forms.customers where account_id = $1', ['acct-made']);
    assert.equal(stored.rows[0]?.customer_id, made.id);
    assert.equal(await keyOf('acct-made'), 'customer-made-by-the-500', 'the key kept');
  });
});
