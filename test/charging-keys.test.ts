// Issue 15: each invoice's PaymentIntent is created under a random idempotency
// key stored on its charge row, never under the invoice id. The case that
// breaks a deterministic key: a second database (a restore, another
// installation) with the same invoice ids, charging through the same gateway
// account. With the invoice id as the key, the gateway would replay the first
// database's PaymentIntent (and its success) to the second, which would mark
// its invoice paid with nobody's money.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { ensureInvoicingSchema } from '../services/invoicing/src/cli/migrations.ts';
import { sdkCardGateway } from '../services/cc-forms/src/cards/gateway.ts';
import { startCardSetup } from '../services/cc-forms/src/cards/service.ts';
import { chargingWorld, insertInvoice, putCard, statuses, type ChargingWorld } from './charging-harness.ts';

const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../services/cc-forms/migrations', import.meta.url));

describe('two databases with the same invoice ids, one gateway account (the real sandbox)', () => {
  let w: ChargingWorld;
  let second: TestDatabase;

  before(async () => {
    w = await chargingWorld('charge_keys_a');
    second = await freshDatabase('charge_keys_b');
    await ensureInvoicingSchema(second.pool);
    await migrate(second.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  });
  after(async () => {
    await second?.drop();
    await w?.close();
  });

  test('each creates a PaymentIntent of its own, under a key of its own, and is paid by its own charge', async () => {
    await insertInvoice(w.db.pool, { id: 'inv-shared-1', account: 'acct-shared', total: '12.34' });
    await insertInvoice(second.pool, { id: 'inv-shared-1', account: 'acct-shared', total: '12.34' });
    // The same account, customer and card in both: everything the create's parameters hold is alike.
    const pm = await putCard(w, 'acct-shared', '4242424242424242');
    const { rows } = await w.db.pool.query('select * from cc_forms.cards where account_id = $1', ['acct-shared']);
    const card = rows[0]!;
    await second.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', ['acct-shared', card.customer_id]);
    await second.pool.query(
      `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year)
       values ($1, $2, $3, 'seti_put_by_test', 'visa', '4242', 12, 2034)`,
      ['acct-shared', card.customer_id, pm],
    );

    const gateway = chargeGateway(w.sdk);
    for (const db of [w.db, second]) {
      const report = await chargePass({ pool: db.pool, gateway, retrySchedule: [60], log: memoryLogger() });
      assert.equal(report.paid, 1);
    }

    const charge = async (db: TestDatabase) =>
      (
        await db.pool.query<{ payment_intent_id: string; idempotency_key: string }>(
          `select payment_intent_id, idempotency_key from invoicing.charges where invoice_id = 'inv-shared-1'`,
        )
      ).rows[0]!;
    const [first, other] = [await charge(w.db), await charge(second)];
    assert.notEqual(first.idempotency_key, 'inv-shared-1');
    assert.notEqual(other.idempotency_key, first.idempotency_key, 'a key of its own');
    assert.notEqual(other.payment_intent_id, first.payment_intent_id, "not the first database's PaymentIntent");
    assert.equal((await statuses(second.pool))['inv-shared-1'], 'paid');

    // At the gateway: two PaymentIntents for the invoice id, each paid by one succeeded charge of its own.
    const intents = await w.db.pool.query<{ id: string; succeeded: number }>(
      `select pi.id, (select count(*)::int from gateway_sandbox.charges c where c.payment_intent = pi.id and c.status = 'succeeded') as succeeded
         from gateway_sandbox.payment_intents pi where pi.metadata->>'invoice_id' = 'inv-shared-1' order by pi.id`,
    );
    assert.deepEqual(
      intents.rows,
      [first.payment_intent_id, other.payment_intent_id].sort().map((id) => ({ id, succeeded: 1 })),
    );
  });
  test("each makes the account's gateway customer of its own: a second installation is never handed the first one's customer (and its cards)", async () => {
    const deps = (pool: typeof second.pool) => ({ pool, gateway: sdkCardGateway(w.sdk), attemptsPerHour: 10, log: memoryLogger() });
    for (const pool of [w.db.pool, second.pool]) assert.equal((await startCardSetup(deps(pool), 'acct-twice')).kind, 'started');
    const customerOf = async (pool: typeof second.pool) =>
      (await pool.query<{ customer_id: string }>(`select customer_id from cc_forms.customers where account_id = 'acct-twice'`)).rows[0]
        ?.customer_id;
    const [first, other] = [await customerOf(w.db.pool), await customerOf(second.pool)];
    assert.ok(first?.startsWith('cus_') && other?.startsWith('cus_'));
    assert.notEqual(first, other);
    // A second start in one installation keeps its customer.
    await startCardSetup(deps(second.pool), 'acct-twice');
    assert.equal(await customerOf(second.pool), other);
  });
});
