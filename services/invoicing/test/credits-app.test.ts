// Issue 17's "done when", through the real apps: the invoicing process over
// HTTP and the `vault` command, on the real PostgreSQL, with usage written
// where metering publishes it. The months are the real clock's: three months
// ago, two months ago, and this one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { freePort, freshDatabase, migrateApps, startService, vault, type RunningService, type TestDatabase } from '@vault/testkit';
import { seedOwners, seedStop, seedUsage } from './seed.ts';

const ADMIN = 'admin-token-credits-app-0123456789abcdef';
const month = (back: number) => DateTime.utc().startOf('month').minus({ months: back });
const [M0, M1, NOW] = [month(3), month(2), month(0)];
const iso = (t: DateTime) => t.toISO()!;
/** The app's own grace period: a year, so its schedule never finalizes here. */
const APP_GRACE_HOURS = 8784;

describe('credits through the invoicing process and the vault command', () => {
  let db: TestDatabase;
  let app: RunningService;
  const call = async (path: string, init: { method?: string; body?: object } = {}) => {
    const res = await fetch(`${app.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${ADMIN}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { invoices?: Record<string, string>[] } };
  };
  // The CLI finalizes with the ordinary grace period; the app's own schedule never does (its grace is a year, the most).
  const cli = (args: string[]) => vault(args, { DATABASE_URL: db.url, ADMIN_TOKEN: ADMIN, INVOICE_GRACE_HOURS: '72' });
  const balance = async () => (await call('/v1/accounts/acct-app/balance')).body.credit as string;
  const invoice = async (period: DateTime) =>
    (await call('/v1/accounts/acct-app/invoices')).body.invoices!.find((i) => i.period === period.toFormat('yyyy-MM'))!;

  before(async () => {
    db = await freshDatabase('credits_app');
    await migrateApps(db);
    await seedOwners(db.pool, [{ app: 'app-credit', account: 'acct-app', from: iso(M0) }]);
    await seedUsage(db.pool, [
      // Runs with no stop yet: M0's invoice bills it to the month's end.
      { app: 'app-credit', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: iso(M0) },
      { app: 'app-credit', kind: 'dyno', key: 'worker.1', product: 'dyno:basic', from: iso(M1), to: iso(M1.plus({ days: 10 })) },
      { app: 'app-credit', kind: 'dyno', key: 'web.2', product: 'dyno:performance-m', from: iso(NOW) },
    ]);
    const port = await freePort();
    app = await startService('invoicing', {
      DATABASE_URL: db.url,
      INVOICING_PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      KAFKA_BROKERS: '',
      GATEWAY_WEBHOOK_SECRET: 'whsec_credits_app',
      INVOICE_GRACE_HOURS: String(APP_GRACE_HOURS),
      INVOICE_FINALIZE_EVERY_SECONDS: '3600',
      CHARGE_EVERY_SECONDS: '3600',
    });
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await db?.drop();
  });

  test('a late credit larger than the next month leaves a 0.00 invoice and the rest in the balance', async () => {
    const first = await cli(['finalize', '--period', M0.toFormat('yyyy-MM')]);
    assert.equal(first.status, 0, first.stderr + first.stdout);
    assert.equal((await invoice(M0)).total, '25.00');
    // web.1 stopped a day after it started: M0 charged 25.00 for one day's use.
    await seedStop(db.pool, 'app-credit', 'web.1', iso(M0.plus({ days: 1 })));
    const second = await cli(['finalize', '--period', M1.toFormat('yyyy-MM')]);
    assert.equal(second.status, 0, second.stderr + second.stdout);
    const next = await invoice(M1);
    const days = (m: DateTime) => m.daysInMonth!;
    const credit = new Decimal(25).minus(new Decimal(25).div(days(M0)).toDecimalPlaces(2, Decimal.ROUND_HALF_UP));
    const worker = new Decimal(7).times(10).div(days(M1)).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
    const subtotal = worker.minus(credit);
    assert.ok(subtotal.isNegative());
    assert.deepEqual([next.subtotal, next.credit_applied, next.total], [subtotal.toFixed(2), '0.00', '0.00']);
    assert.equal(await balance(), subtotal.neg().toFixed(2));
  });

  test('a grant sent twice counts once, over HTTP and by vault credit grant', async () => {
    const before = new Decimal(await balance());
    const body = { id: 'promo-2026', amount: '10.00', reason: 'launch promotion' };
    assert.equal((await call('/v1/accounts/acct-app/credits', { method: 'POST', body })).status, 201);
    assert.equal((await call('/v1/accounts/acct-app/credits', { method: 'POST', body })).status, 200);
    assert.equal(await balance(), before.plus(10).toFixed(2));

    const grant = [
      'credit',
      'grant',
      '--account',
      'acct-app',
      '--amount',
      '2.50',
      '--reason',
      'goodwill',
      '--id',
      'cli-1',
      '--expires',
      // An instant: a replay must give the same one (a duration's replay takes the recorded one: the next test).
      iso(NOW.plus({ months: 6 })),
    ];
    const once = await cli(grant);
    assert.equal(once.status, 0, once.stderr + once.stdout);
    assert.match(once.stdout, /^granted 2\.50 USD to acct-app \(credit cli-1, expires \d{4}-.*\): goodwill; balance now \d+\.\d\d USD\n$/);
    const twice = await cli(grant);
    assert.equal(twice.status, 0, twice.stderr + twice.stdout);
    assert.match(twice.stdout, /^credit cli-1 was already granted on .*; nothing changed/);
    assert.equal(await balance(), before.plus(12.5).toFixed(2));
    const clash = await cli([...grant.slice(0, 5), '3.00', ...grant.slice(6)]);
    assert.equal(clash.status, 1);
    assert.match(clash.stdout, /nothing granted: credit cli-1 was already granted to acct-app with another amount/);
    const bad = await cli(['credit', 'grant', '--account', 'acct-app', '--amount', '2.5', '--reason', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--amount must be a decimal string with two decimals/);
    const help = await cli(['credit', 'grant', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: vault credit grant --account ID --amount 10\.00 --reason TEXT/);
  });

  test('vault credit grant --expires P90D run twice: the replay keeps the recorded expiry, exit 0, nothing granted again', async () => {
    const before = new Decimal(await balance());
    const grant = [
      'credit',
      'grant',
      '--account',
      'acct-app',
      '--amount',
      '1.25',
      '--reason',
      'apology',
      '--id',
      'cli-p90d',
      '--expires',
      'P90D',
    ];
    const once = await cli(grant);
    assert.equal(once.status, 0, once.stderr + once.stdout);
    const expires = /\(credit cli-p90d, expires (\S+)\)/.exec(once.stdout)?.[1];
    assert.ok(expires, once.stdout);
    // Each run counts the duration from its own now, a few ms later than the first.
    const twice = await cli(grant);
    assert.equal(twice.status, 0, twice.stderr + twice.stdout);
    assert.match(twice.stdout, /^credit cli-p90d was already granted on .*; nothing changed/);
    assert.equal(await balance(), before.plus(1.25).toFixed(2));
    const recorded = await db.pool.query<{ expires_at: Date }>(
      `select expires_at from invoicing.credit_entries where grant_id = 'cli-p90d'`,
    );
    assert.deepEqual(
      recorded.rows.map((r) => r.expires_at.toISOString()),
      [expires],
    );
    // An instant given explicitly must still match the recorded one; another duration is another expiry.
    for (const expiry of [iso(NOW.plus({ days: 90 })), 'P30D', 'P91D']) {
      const other = await cli([...grant.slice(0, -1), expiry]);
      assert.equal(other.status, 1, `${expiry}: ${other.stdout}`);
      assert.match(other.stdout, /nothing granted: credit cli-p90d was already granted to acct-app with another expires_at/);
    }
  });

  test("this month's draft uses the balance; the balance itself is used only when the month is finalized", async () => {
    const credit = await balance();
    const draft = (await call('/v1/accounts/acct-app/usage')).body as Record<string, string>;
    assert.equal(draft.status, 'draft');
    // What this month's finalize could use: it runs no earlier than the month's end plus the app's
    // grace, after writing off what expired by then (the CLI's grants expire within the year).
    const due = NOW.plus({ months: 1, hours: APP_GRACE_HOURS }).toJSDate();
    const { rows } = await db.pool.query<{ usable: string }>(
      `select coalesce(sum(remaining), 0)::text as usable from invoicing.credit_lots
        where account_id = 'acct-app' and remaining > 0 and (expires_at is null or expires_at > $1)`,
      [due],
    );
    const usable = new Decimal(rows[0]!.usable);
    assert.ok(usable.gt(0) && usable.lt(credit), `grants expiring before the month is due are left out: ${usable} of ${credit}`);
    const expected = Decimal.min(usable, Decimal.max(draft.subtotal!, 0));
    assert.ok(new Decimal(draft.subtotal!).gt(0), 'web.2 has run since the month began');
    assert.equal(draft.credit_applied, expected.toFixed(2));
    assert.equal(draft.total, new Decimal(draft.subtotal!).minus(expected).toFixed(2));
    assert.equal(await balance(), credit, 'a draft takes nothing');
  });
});
