// Charging on a database whose cc-forms has not migrated yet (compose starts the apps at once, a
// fresh deploy): every pass of the app's loop failed, `charging.pass_failed relation
// "cc_forms.cards_on_file" does not exist` at error, and `vault charge` said only that. Now the
// loop's passes wait for cc-forms' migration 001 (it makes the view), saying so at most every 30 s,
// and start once it is there; `vault charge` refuses naming the migration.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { memoryLogger } from '@vault/runtime';
import {
  eventually,
  freshDatabase,
  migrateApps,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type TestDatabase,
  vault,
} from '@vault/testkit';
import { CC_FORMS_NEEDED, CcFormsNotReadyError, ccFormsWait, WARN_AFTER_MS } from '../src/charging/cc-forms-schema.ts';
import { chargePass } from '../src/charging/charger.ts';
import { startChargeLoop } from '../src/charging/schedule.ts';
import { ensureInvoicingSchema } from '../src/cli/migrations.ts';
import { FakeGateway, insertInvoice, statusOf } from './charging-fixture.ts';

const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../../cc-forms/migrations', import.meta.url));

/** A card on file for `account` as cc-forms' card form stores it (its own tables, under its published view). */
async function cardOnFile(db: TestDatabase, account: string, pm: string): Promise<void> {
  await db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', [account, `cus_${account}`]);
  await db.pool.query(
    `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year)
     values ($1, $2, $3, $4, 'visa', '4242', 12, 2034)`,
    [account, `cus_${account}`, pm, `seti_${account}`],
  );
}

describe("charging before cc-forms' migrations are in the database (real PostgreSQL)", () => {
  test('CC_FORMS_NEEDED is the last cc-forms migration that makes cards_on_file, and no later one touches it (raise it with one that does)', async () => {
    const files = (await readdir(CC_FORMS_MIGRATIONS)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
    assert.ok(files.includes(CC_FORMS_NEEDED), CC_FORMS_NEEDED);
    assert.match(await readFile(join(CC_FORMS_MIGRATIONS, CC_FORMS_NEEDED), 'utf8'), /create view cards_on_file as/);
    // Those before it made what it changes (001 the view); only a later one must leave it alone.
    for (const file of files.filter((f) => f > CC_FORMS_NEEDED)) {
      const sql = await readFile(join(CC_FORMS_MIGRATIONS, file), 'utf8');
      assert.doesNotMatch(
        sql,
        /\bcards_on_file\b|\btable cards\b|\bcards\s+(add|drop|alter|rename)\b/i,
        `${file} touches what charging reads`,
      );
    }
  });

  describe('the charging loop', () => {
    let db: TestDatabase;
    before(async () => {
      db = await freshDatabase('cc_forms_wait');
      await ensureInvoicingSchema(db.pool);
    });
    after(() => db?.drop());

    test('a wait longer than a deploy takes is said at warn: cc-forms on another database, or not deployed, leaves every invoice uncharged', async () => {
      const log = memoryLogger();
      const wait = ccFormsWait(db.pool, log, { logEveryMs: 0, warnAfterMs: 300 });
      assert.equal(await wait.ready(), false);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await wait.ready(), false);
      const waiting = log.lines.filter((l) => l.includes('event=charging.waiting_for_cc_forms'));
      assert.deepEqual(
        waiting.map((l) => l.match(/^at=(\w+)/)?.[1]),
        ['info', 'warn'],
        log.lines.join('\n'),
      );
      assert.equal(WARN_AFTER_MS, 5 * 60_000, 'five minutes by default');
    });

    test('passes wait, said once at info (at most every 30 s), never failed; once cc-forms migrates, the next pass charges', async () => {
      await insertInvoice(db.pool, { id: 'ccw-nocard', account: 'acct-ccw-nocard', total: '7.00' });
      const log = memoryLogger();
      const gateway = new FakeGateway();
      const loop = startChargeLoop({ pool: db.pool, gateway, retrySchedule: [60], log, everyMs: 50, minimum: '0.50' });
      const said = () => log.lines.join('\n');
      try {
        // Twenty or so ticks, had they run passes.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const waiting = log.lines.filter((l) => l.includes('event=charging.waiting_for_cc_forms'));
        assert.equal(waiting.length, 1, said());
        assert.match(
          waiting[0]!,
          new RegExp(
            `at=info event=charging\\.waiting_for_cc_forms migration=${CC_FORMS_NEEDED} has=none waited_s=0 reason="cc-forms' schema is not in this database`,
          ),
        );
        assert.match(waiting[0]!, /start cc-forms on the same DATABASE_URL/);
        assert.doesNotMatch(said(), /pass_failed|does not exist|at=error/);
        assert.doesNotMatch(said(), /event=charging\.pass /, 'no pass ran');
        assert.deepEqual([await statusOf(db.pool, 'ccw-nocard'), gateway.sent], ['finalized', []]);

        await migrateApps(db, 'cc-forms');
        // The card's invoice only once its card is on file: a pass may run between the two steps.
        await cardOnFile(db, 'acct-ccw-card', 'pm_ok_ccw');
        await insertInvoice(db.pool, { id: 'ccw-card', account: 'acct-ccw-card', total: '12.00' });
        const statuses = async () => [await statusOf(db.pool, 'ccw-card'), await statusOf(db.pool, 'ccw-nocard')];
        await eventually('the invoices charged', async () => (await statuses()).join() === 'paid,past_due', 10_000).catch(
          async (err: Error) => {
            throw new Error(`${err.message} (${(await statuses()).join()}):\n${said()}`);
          },
        );
        assert.match(said(), new RegExp(`at=info event=charging\\.cc_forms_ready migration=${CC_FORMS_NEEDED} waited_s=\\d+`));
        assert.match(said(), /event=charging\.pass .*count#charges\.paid=1/);
        assert.equal(log.lines.filter((l) => l.includes('event=charging.waiting_for_cc_forms')).length, 1);
        assert.doesNotMatch(said(), /pass_failed|does not exist|at=error/);
      } finally {
        await loop.stop();
      }
    });
  });

  describe('vault charge (a pass of its own)', () => {
    let db: TestDatabase;
    before(async () => {
      db = await freshDatabase('cc_forms_cli');
      await ensureInvoicingSchema(db.pool);
    });
    after(() => db?.drop());

    test('refused, exit 1, naming the migration it needs; once cc-forms migrates it charges', async () => {
      await insertInvoice(db.pool, { id: 'ccc-nocard', account: 'acct-ccc-nocard', total: '7.00' });
      await assert.rejects(chargePass({ pool: db.pool, gateway: new FakeGateway(), retrySchedule: [60], log: memoryLogger() }), (err) => {
        assert.ok(err instanceof CcFormsNotReadyError, String(err));
        return true;
      });
      const env = {
        DATABASE_URL: db.url,
        GATEWAY_URL: 'http://127.0.0.1:9',
        GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
        GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
      };
      const refused = await vault(['charge'], env);
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(
          `^vault: charge failed: cc-forms' schema is not in this database, and charging reads cc_forms\\.cards_on_file, which cc-forms' migration ${CC_FORMS_NEEDED} makes: start cc-forms on the same DATABASE_URL .*, or run \`vault migrate\`$`,
          'm',
        ),
      );
      assert.doesNotMatch(refused.stderr, /^\s+at /m);
      assert.equal(refused.stdout, '');
      assert.equal(await statusOf(db.pool, 'ccc-nocard'), 'finalized', 'nothing made past due for want of the view');

      await migrateApps(db, 'cc-forms');
      const done = await vault(['charge'], env);
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, /^charged 0 invoice\(s\): 0 paid, 0 declined; 1 past_due \(1 with no card on file\);/m);
    });
  });
});
