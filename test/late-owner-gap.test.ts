// An app's ownership with a hole in its sequence (docs/contracts/metering.md,
// "Sequence gaps"; invoicing.md, "Late usage"): a span after the hole is
// derived only once the missing event arrives, so it is learned then, however
// early its own events came. Invoicing finds late usage by when it was
// learned: dated by its own events, the new owner's span looked older than the
// invoices finalized without it, and those months were never charged for it.
// So with a repeated sequence whose winning copy names another app: the first
// app's interval is gone and must be credited. Through metering's consumer
// (applyRaw) and invoicing's finalize, time between the runs simulated by dating
// events and invoices back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { billingDatabase, seedOwners, seedUsage } from '../services/invoicing/test/seed.ts';
import { applyRaw } from '../services/metering/test/harness.ts';

const prices = loadPriceBook();
const event = (id: string, subject: string, sequence: number, type: string, time: string, data: object) =>
  JSON.stringify({ specversion: '1.0', id, source: 'platform', type, time, subject, sequence, data });
const owner = (id: string, app: string, sequence: number, time: string, account: string) =>
  event(id, app, sequence, 'app.owner_changed', time, { app_id: app, account_id: account });

describe('an app’s ownership with a hole, or a dyno moved to another app, learned after its months were invoiced (metering’s consumer, finalize)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
    await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  });
  after(() => db?.drop());

  /** Finalizes a month as of `clock`, then dates the invoices it made back to `clock`, as if the run had been then. */
  async function run(period: string, clock: string): Promise<void> {
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => DateTime.fromISO(clock, { zone: 'utc' }) });
    await billing.finalize(period);
    await db.pool.query('update invoicing.invoices set finalized_at = $2 where period = $1 and finalized_at > $2', [period, clock]);
  }
  /** What a month charges the account: its invoice's usage lines and every adjustment to it since. */
  async function charged(account: string, period: string): Promise<string> {
    const { rows } = await db.pool.query<{ amount: string }>(
      `select coalesce(sum(l.amount), 0)::text as amount
         from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
        where i.account_id = $1 and ((i.period = $2 and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = $2))`,
      [account, period],
    );
    return new Decimal(rows[0]!.amount).toFixed(2);
  }
  /** Events applied now, then dated back to when they came (`arrived` by id). */
  async function arrive(raws: string[], arrived: Record<string, string>): Promise<void> {
    await applyRaw(db, raws, Date.now());
    for (const [id, at] of Object.entries(arrived))
      await db.pool.query('update metering.events set received_at = $2 where id = $1', [id, at]);
  }
  /** A month's own account and app, running all month: the account has an invoice every month. */
  async function ownApp(account: string): Promise<void> {
    const at = '2026-10-01T00:00:00Z';
    await seedOwners(db.pool, [{ app: `${account}-own`, account, from: at, learnedAt: at }]);
    await seedUsage(db.pool, [{ app: `${account}-own`, kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: at, learnedAt: at }]);
  }
  const dyno = (app: string) =>
    event(`${app}-d`, `${app}-dyno`, 1, 'dyno.started', '2026-10-01T00:00:00Z', { app_id: app, name: 'web.1', size: 'standard-1x' });

  test('A owns it from Oct 1, B from Oct 10 (missing until December), C from Oct 20 (came Oct 25): C is charged its 12 October days and November', async () => {
    await ownApp('gap-c');
    const early = { 'gap-1': '2026-10-01T00:00:00Z', 'gap-x-d': '2026-10-01T00:00:00Z', 'gap-3': '2026-10-25T00:00:00Z' };
    await arrive(
      [
        owner('gap-1', 'gap-x', 1, '2026-10-01T00:00:00Z', 'gap-a'),
        owner('gap-3', 'gap-x', 3, '2026-10-20T00:00:00Z', 'gap-c'),
        dyno('gap-x'),
      ],
      early,
    );
    // Derived when they came: learned then.
    await db.pool.query(`update metering.app_ownership set learned_at = '2026-10-01T00:00:00Z' where app_id = 'gap-x'`);
    await db.pool.query(`update metering.usage_intervals set learned_at = '2026-10-01T00:00:00Z' where app_id = 'gap-x'`);
    await run('2026-10', '2026-11-04T00:00:00Z');
    await run('2026-11', '2026-12-04T00:00:00Z');
    assert.equal(await charged('gap-c', '2026-10'), '25.00', 'C finalized without the app: its owner then unknown');

    await arrive([owner('gap-2', 'gap-x', 2, '2026-10-10T00:00:00Z', 'gap-b')], {});
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await run('2026-10', later);
    await run('2026-11', later);
    await run('2026-12', '2027-01-04T00:00:00Z');
    // A: Oct 1–10, 9/31 × 25.00; B: Oct 10–20; C: Oct 20–31, 12/31 × 25.00 = 9.68, then November whole.
    assert.equal(await charged('gap-a', '2026-10'), '7.26');
    assert.equal(await charged('gap-b', '2026-10'), '8.06');
    assert.equal(await charged('gap-c', '2026-10'), '34.68');
    assert.equal(await charged('gap-c', '2026-11'), '50.00');
  });

  test('the app’s creation (A, Oct 1) comes last, its transfer to B (Oct 10) on time: B is charged Oct 10–31', async () => {
    await ownApp('new-b');
    const onTime = { 'new-2': '2026-10-10T00:00:00Z', 'new-x-d': '2026-10-10T00:00:00Z' };
    await arrive([owner('new-2', 'new-x', 2, '2026-10-10T00:00:00Z', 'new-b'), dyno('new-x')], onTime);
    await db.pool.query(`update metering.usage_intervals set learned_at = '2026-10-10T00:00:00Z' where app_id = 'new-x'`);
    await run('2026-10', '2026-11-04T00:00:00Z');
    assert.equal(await charged('new-b', '2026-10'), '25.00', 'B finalized without the app: its usage owned by no one known');

    await arrive([owner('new-1', 'new-x', 1, '2026-10-01T00:00:00Z', 'new-a')], {});
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await run('2026-10', later);
    await run('2026-11', later);
    // A: Oct 1–10, 9/31 × 25.00; B: Oct 10–31, 22/31 × 25.00 = 17.74.
    assert.equal(await charged('new-a', '2026-10'), '7.26');
    assert.equal(await charged('new-b', '2026-10'), '42.74');
  });

  test('a repeated dyno.started (same sequence and time, a smaller id: the first copy now) names another app: the first app’s account is credited what it paid, the other charged', async () => {
    await ownApp('mv-a');
    await ownApp('mv-b');
    const web = (app: string) => ({ app_id: app, name: 'web.1', size: 'standard-1x' });
    const at = '2026-10-11T00:00:00Z';
    await arrive(
      [
        owner('mv-x-1', 'mv-x', 1, '2026-10-01T00:00:00Z', 'mv-a'),
        owner('mv-y-1', 'mv-y', 1, '2026-10-01T00:00:00Z', 'mv-b'),
        event('mv-d-1b', 'mv-d', 1, 'dyno.started', '2026-10-01T00:00:00Z', web('mv-x')),
        event('mv-d-2', 'mv-d', 2, 'dyno.stopped', at, { app_id: 'mv-x' }),
      ],
      { 'mv-x-1': at, 'mv-y-1': at, 'mv-d-1b': at, 'mv-d-2': at },
    );
    for (const table of ['app_ownership', 'usage_intervals'])
      await db.pool.query(`update metering.${table} set learned_at = $1 where app_id in ('mv-x', 'mv-y')`, [at]);
    await run('2026-10', '2026-11-04T00:00:00Z');
    assert.equal(await charged('mv-a', '2026-10'), '33.06', 'its own 25.00 and the dyno’s 10 days');

    await arrive([event('mv-d-1a', 'mv-d', 1, 'dyno.started', '2026-10-01T00:00:00Z', web('mv-y'))], {});
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await run('2026-10', later);
    await run('2026-11', later);
    assert.equal(await charged('mv-a', '2026-10'), '25.00');
    assert.equal(await charged('mv-b', '2026-10'), '33.06');
  });

  test('an add-on’s plan change naming another app, then a repeat of its sequence that deprovisions it (the first copy now): the other app’s account is credited', async () => {
    await ownApp('dp-a');
    await ownApp('dp-b');
    const addon = (id: string, sequence: number, type: string, time: string, data: object) =>
      event(id, 'dp-pg', sequence, type, time, data);
    const at = '2026-10-11T00:00:00Z';
    await arrive(
      [
        owner('dp-x-1', 'dp-x', 1, '2026-10-01T00:00:00Z', 'dp-a'),
        owner('dp-y-1', 'dp-y', 1, '2026-10-01T00:00:00Z', 'dp-b'),
        addon('dp-1', 1, 'addon.provisioned', '2026-10-01T00:00:00Z', {
          app_id: 'dp-x',
          service: 'heroku-postgresql',
          plan: 'essential-0',
        }),
        addon('dp-2b', 2, 'addon.plan_changed', '2026-10-21T00:00:00Z', { app_id: 'dp-y', plan: 'essential-0' }),
      ],
      { 'dp-x-1': at, 'dp-y-1': at, 'dp-1': at, 'dp-2b': at },
    );
    for (const table of ['app_ownership', 'usage_intervals'])
      await db.pool.query(`update metering.${table} set learned_at = $1 where app_id in ('dp-x', 'dp-y')`, [at]);
    await run('2026-10', '2026-11-04T00:00:00Z');
    // dp-b: its own 25.00 and the add-on's last 11 days on dp-y (11/31 × 5.00).
    assert.equal(await charged('dp-b', '2026-10'), '26.77');

    await arrive([addon('dp-2a', 2, 'addon.deprovisioned', '2026-10-21T00:00:00Z', { app_id: 'dp-y' })], {});
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await run('2026-10', later);
    await run('2026-11', later);
    assert.equal(await charged('dp-b', '2026-10'), '25.00', 'the add-on was deprovisioned, not moved: nothing on dp-y');
    assert.equal(await charged('dp-a', '2026-10'), '28.23', 'its own and the add-on’s 20 days on dp-x, unchanged');
  });
});
