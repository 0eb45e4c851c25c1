import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { Decimal } from 'decimal.js';
import type { TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { invoiceTotal, priceLines } from '../src/domain/lines.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { lineId } from '../src/domain/usage.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { readHolds } from '../src/billing/holds.ts';
import { readLineUsage } from '../src/billing/line-usage.ts';
import { accountUsage, unownedMs, type OwnershipSpan, type UsageSpan } from './oracle.ts';
import { billingDatabase, seedGap, seedOwners, seedStop, seedUsage, type SeedOwner, type SeedUsage } from './seed.ts';

const prices = loadPriceBook();
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });

/** A small deterministic generator, so a failure replays. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('finalize and drafts against the real PostgreSQL', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db.drop());

  test('the SQL aggregate gives every account the same milliseconds per line as the test oracle, and each app the same unowned milliseconds', async () => {
    const rand = random(42);
    const period = parsePeriod('2026-10');
    const base = period.start.toMillis() - 10 * 86_400_000;
    const span = 50 * 86_400_000;
    const usage: SeedUsage[] = [];
    const owners: SeedOwner[] = [];
    for (let a = 0; a < 12; a++) {
      const app = `eq-app-${a}`;
      // Up to three owners in a row, with holes between them.
      let t = base + Math.floor(rand() * span * 0.3);
      for (let k = 0; k < 3 && t < base + span; k++) {
        const end = t + Math.floor(rand() * span * 0.5) + 1;
        const open = k === 2 && rand() < 0.5;
        owners.push({
          app,
          account: `eq-acct-${Math.floor(rand() * 5)}`,
          from: new Date(t).toISOString(),
          ...(open ? {} : { to: new Date(end).toISOString() }),
        });
        t = end + Math.floor(rand() * 86_400_000);
      }
      for (let i = 0; i < 15; i++) {
        const from = base + Math.floor(rand() * span) + Math.floor(rand() * 1000);
        const to = from + Math.floor(rand() * span * 0.4) + 1;
        const dyno = rand() < 0.6;
        usage.push({
          app,
          kind: dyno ? 'dyno' : 'addon',
          key: dyno ? `web.${Math.floor(rand() * 3)}` : `addon-${Math.floor(rand() * 2)}`,
          product: dyno ? 'dyno:standard-1x' : 'addon:heroku-postgresql:essential-0',
          from: new Date(from).toISOString(),
          ...(rand() < 0.2 ? {} : { to: new Date(to).toISOString() }),
        });
      }
    }
    // Distinct subjects per span, so overlapping spans of one key are fine.
    await seedUsage(db.pool, usage);
    await seedOwners(db.pool, owners);

    const until = period.start.toMillis() + 20 * 86_400_000 + 1234;
    const sql = await readLineUsage(db.pool, { from: period.start.toJSDate(), to: new Date(until) });
    const spans: UsageSpan[] = usage.map((u) => ({
      appId: u.app,
      kind: u.kind,
      key: u.key,
      product: u.product,
      fromMs: Date.parse(u.from),
      toMs: u.to ? Date.parse(u.to) : null,
    }));
    const ownership: OwnershipSpan[] = owners.map((o) => ({
      appId: o.app,
      accountId: o.account,
      fromMs: Date.parse(o.from),
      toMs: o.to ? Date.parse(o.to) : null,
    }));
    const accounts = [...new Set(owners.map((o) => o.account))];
    let lines = 0;
    for (const account of accounts) {
      const pure = accountUsage(account, period, spans, ownership, until);
      const key = (l: { appId: string; kind: string; key: string; product: string }) => lineId(l.appId, l.kind, l.key, l.product);
      const asMap = (ls: { appId: string; kind: string; key: string; product: string; ms: number }[]) =>
        Object.fromEntries(ls.filter((l) => l.ms > 0).map((l) => [key(l), l.ms]));
      assert.deepEqual(asMap(sql.get(account) ?? []), asMap(pure), account);
      lines += pure.length;
    }
    assert.ok(lines > 20, `only ${lines} lines compared`);

    // Priced, through computeDrafts (what finalize and the drafts API run): the oracle's usage priced by the rating domain.
    const { drafts } = await computeDrafts(db.pool, prices, { period, until: new Date(until), accounts, adjustments: true });
    for (const account of accounts) {
      const want = priceLines(accountUsage(account, period, spans, ownership, until), period, prices);
      assert.deepEqual(drafts.get(account)?.lines, want, account);
      assert.equal(drafts.get(account)?.total, invoiceTotal(want), account);
    }

    // Unowned usage, which holds a month: the SQL's per app equals the oracle's unownedMs.
    const holds = await readHolds(db.pool, { from: period.start.toJSDate(), to: new Date(until) });
    const sqlUnowned = Object.fromEntries(
      holds.filter((h) => h.reason === 'unowned').map((h) => [h.app_id, Math.round(Number(h.detail.split(' ')[0]) * 1000)]),
    );
    const pureUnowned = Object.fromEntries(
      [...new Set(spans.map((u) => u.appId))]
        .map(
          (app) =>
            [
              app,
              unownedMs(
                spans.filter((u) => u.appId === app),
                ownership.filter((o) => o.appId === app),
                period,
                until,
              ),
            ] as const,
        )
        .filter(([, ms]) => ms > 0),
    );
    assert.deepEqual(sqlUnowned, pureUnowned);
    assert.ok(Object.keys(pureUnowned).length > 0, 'no unowned usage generated');

    // Scoped to one account (a draft, a customer's holds), the same holds as the whole month's for it.
    const sorted = (hs: typeof holds) => hs.map((h) => JSON.stringify(h)).sort();
    let scopedHolds = 0;
    for (const account of accounts) {
      const scoped = await readHolds(db.pool, { from: period.start.toJSDate(), to: new Date(until), accounts: [account] });
      assert.deepEqual(sorted(scoped), sorted(holds.filter((h) => h.account_id === account)), account);
      scopedHolds += scoped.length;
    }
    assert.ok(scopedHolds > 0, 'no account was held');
  });

  test("a sequence gap holds the accounts that owned the app from its unreliable instant to the window's end", async () => {
    await seedOwners(db.pool, [
      { app: 'g-always', account: 'g-1', from: '2026-06-01T00:00:00Z' },
      { app: 'g-later', account: 'g-2', from: '2026-06-01T00:00:00Z' },
      { app: 'g-moved', account: 'g-3', from: '2026-06-01T00:00:00Z', to: '2026-08-10T00:00:00Z' },
      { app: 'g-moved', account: 'g-4', from: '2026-08-10T00:00:00Z' },
    ]);
    await seedGap(db.pool, 'g-always', 'g-always-1', null);
    await seedGap(db.pool, 'g-later', 'g-later-1', '2026-09-01T00:00:00Z');
    await seedGap(db.pool, 'g-moved', 'g-moved-1', '2026-08-20T00:00:00Z');
    const gaps = async (accounts?: string[]) =>
      (await readHolds(db.pool, { from: new Date('2026-08-01T00:00:00Z'), to: new Date('2026-09-01T00:00:00Z'), accounts }))
        .filter((h) => h.reason === 'gap' && h.app_id.startsWith('g-'))
        .map((h) => `${h.account_id}:${h.app_id}`)
        .sort();
    // Null: unreliable from the start. From the window's end on: not this month's. After a transfer: the new owner only.
    assert.deepEqual(await gaps(), ['g-1:g-always', 'g-4:g-moved']);
    assert.deepEqual(await gaps(['g-2', 'g-3', 'g-4']), ['g-4:g-moved']);
    assert.match(
      (await readHolds(db.pool, { from: new Date('2026-08-01Z'), to: new Date('2026-09-01Z'), accounts: ['g-1'] }))[0]!.detail,
      /^subject g-always-1 is missing sequence 2; its usage is unreliable from its start$/,
    );
    // The other tests' months stay free of these gaps.
    await db.pool.query(`delete from metering.subject_gaps where subject like 'g-%'`);
  });

  test('holds: a sequence gap, an unpriced product and unowned usage keep a month a draft, with reasons, until the cause is gone', async () => {
    const clock = at('2026-09-10T00:00:00Z');
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    await seedOwners(db.pool, [
      { app: 'h-gap', account: 'h-1', from: '2026-06-01T00:00:00Z' },
      { app: 'h-unpriced', account: 'h-2', from: '2026-06-01T00:00:00Z' },
      { app: 'h-late-owner', account: 'h-3', from: '2026-08-15T00:00:00Z' },
      { app: 'h-fine', account: 'h-4', from: '2026-06-01T00:00:00Z' },
    ]);
    const dyno = (app: string, product = 'dyno:basic'): SeedUsage => ({
      app,
      kind: 'dyno',
      key: 'web.1',
      product,
      from: '2026-08-01T00:00:00Z',
      to: '2026-08-11T00:00:00Z',
    });
    await seedUsage(db.pool, [
      dyno('h-gap'),
      dyno('h-unpriced', 'dyno:quantum-9x'),
      dyno('h-late-owner'),
      dyno('h-fine'),
      dyno('h-nobody'),
    ]);
    await seedGap(db.pool, 'h-gap', 'dyno-h-gap-2', '2026-08-05T00:00:00Z');

    const holds = await billing.holds('2026-08');
    const reasons = Object.fromEntries(holds.held.map((h) => [h.account_id ?? 'nobody', h.holds.map((x) => `${x.reason}:${x.app_id}`)]));
    assert.deepEqual(reasons, {
      'h-1': ['gap:h-gap'],
      'h-2': ['unpriced:h-unpriced'],
      'h-3': ['unowned:h-late-owner'],
      nobody: ['unowned:h-nobody'],
    });
    assert.match(holds.held.find((h) => h.account_id === 'h-3')!.holds[0]!.detail, /^864000 s of usage while the app had no owner$/);

    const first = await billing.finalize('2026-08');
    assert.deepEqual([first.finalized, first.held], [1, 3]);
    assert.equal((await billing.invoices('h-4'))[0]!.total, '2.26');
    for (const held of ['h-1', 'h-2', 'h-3']) assert.deepEqual(await billing.invoices(held), []);

    await db.pool.query(`delete from metering.subject_gaps where subject = 'dyno-h-gap-2'`);
    const second = await billing.finalize('2026-08');
    assert.deepEqual([second.finalized, second.alreadyFinalized, second.held], [1, 1, 2]);
    assert.equal((await billing.invoices('h-1'))[0]!.number, '2026-08-000002');
  });

  test('a finalized invoice never changes: the database refuses updates and deletes of it', async () => {
    const { rows } = await db.pool.query(`select id from invoicing.invoices limit 1`);
    await assert.rejects(db.pool.query(`update invoicing.invoices set total = 0 where id = $1`, [rows[0].id]), /never changes/);
    await assert.rejects(db.pool.query(`delete from invoicing.invoice_lines where invoice_id = $1`, [rows[0].id]), /never changes/);
    await db.pool.query(`update invoicing.invoices set status = 'paid' where id = $1`, [rows[0].id]);
  });

  test("the current month: the draft counts a running dyno up to now, the projection to the month's end, the chart per day", async () => {
    const clock = at('2026-09-16T00:00:00Z');
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    await seedOwners(db.pool, [{ app: 'c-app', account: 'c-1', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      { app: 'c-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-09-01T00:00:00Z' },
      {
        app: 'c-app',
        kind: 'addon',
        key: 'addon-x',
        product: 'addon:heroku-postgresql:essential-0',
        from: '2026-09-02T00:00:00Z',
        to: '2026-09-03T00:00:00Z',
      },
    ]);
    const draft = await billing.draft('c-1');
    assert.equal(draft.period, '2026-09');
    assert.deepEqual(
      draft.lines.map((l) => [l.key, l.quantity, l.amount]),
      [
        ['addon-x', '0.0333333', '0.17'],
        ['web.1', '0.5000000', '12.50'],
      ],
    );
    assert.equal(draft.total, '12.67');
    assert.equal((await billing.projection('c-1')).total, '25.17');
    const days = await billing.usagePerDay('c-1');
    assert.equal(days.length, 15);
    // 25.00 / 30 a day, and the add-on's 5.00 / 30 on the 2nd, each day the rounded running sum
    // less the day before's: the days add up to the draft (12.67), rounded once.
    assert.deepEqual(
      days.slice(0, 3).map((d) => [d.day, d.amount]),
      [
        ['2026-09-01', '0.83'],
        ['2026-09-02', '1.00'],
        ['2026-09-03', '0.84'],
      ],
    );
    assert.equal(days.reduce((sum, d) => sum.plus(d.amount), new Decimal(0)).toFixed(2), draft.total);
    const future = await billing.draft('c-1', '2027-01');
    assert.deepEqual([future.lines, future.total, future.number], [[], '0.00', null]);
  });

  test('two finalize runs at once on a month with nothing finalized yet give each account one invoice, numbered 1..n', async () => {
    const accounts = ['cc-1', 'cc-2', 'cc-3', 'cc-4', 'cc-5'];
    await seedOwners(
      db.pool,
      accounts.map((account) => ({ app: `${account}-app`, account, from: '2026-05-01T00:00:00Z' })),
    );
    await seedUsage(
      db.pool,
      accounts.map((account) => ({
        app: `${account}-app`,
        kind: 'dyno' as const,
        key: 'web.1',
        product: 'dyno:basic',
        from: '2026-05-01T00:00:00Z',
        to: '2026-05-02T00:00:00Z',
      })),
    );
    const now = () => at('2026-06-10T00:00:00Z');
    const runs = await Promise.all([1, 2].map(() => createBilling({ pool: db.pool, prices, graceHours: 72, now }).finalize('2026-05')));
    assert.deepEqual(runs.map((r) => [r.finalized, r.alreadyFinalized]).sort(), [
      [0, 5],
      [5, 0],
    ]);
    const { rows } = await db.pool.query(`select account_id, number from invoicing.invoices where period = '2026-05' order by number`);
    assert.deepEqual(
      rows.map((r) => [r.account_id, r.number]),
      accounts.map((a, i) => [a, `2026-05-00000${i + 1}`]),
    );
  });

  test('a future month is an empty draft even with a late adjustment pending: it stays on the current month', async () => {
    let clock = at('2025-04-05T00:00:00Z');
    const billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    await seedOwners(db.pool, [{ app: 'f-app', account: 'f-1', from: '2025-03-01T00:00:00Z' }]);
    // web.1 runs with no stop: March bills it to the month's end.
    await seedUsage(db.pool, [{ app: 'f-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2025-03-01T00:00:00Z' }]);
    await billing.finalize('2025-03');
    // The stop arrives late: March owes 25.00 × 1/31 = 0.81, so 24.19 comes back on the current month's draft.
    await seedStop(db.pool, 'f-app', 'web.1', '2025-03-02T00:00:00Z');
    clock = at('2025-04-20T00:00:00Z');
    const current = await billing.draft('f-1');
    assert.deepEqual(
      current.lines.map((l) => [l.kind, l.amount]),
      [['adjustment', '-24.19']],
    );
    const future = await billing.draft('f-1', '2025-06');
    assert.deepEqual([future.lines, future.subtotal, future.credit_applied, future.total], [[], '0.00', '0.00', '0.00']);
  });
});
