// The billing rules (docs/contracts/invoicing.md, Rating) on the production path: each case writes
// its usage intervals and ownership spans where metering publishes them, in a real PostgreSQL, and
// its invoice is computed by computeDrafts (the SQL aggregate, then the rating domain's pricing),
// which finalize and the drafts API both run. Periods stay pure: production calls parsePeriod as is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { PriceBook } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { createBilling } from '../src/billing/service.ts';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { invoiceTotal } from '../src/domain/lines.ts';
import { nextPeriod, parsePeriod, periodContaining, previousPeriod } from '../src/domain/period.ts';
import { octoberInvoices, statedLine } from '../../../test/fixtures/october.ts';
import { billingDatabase, seedOwners, seedStop, seedUsage, type SeedOwner, type SeedUsage } from './seed.ts';

/** The repository's copies of the platform's examples and price book. */
const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
const prices = PriceBook.parse(JSON.parse(readFileSync(new URL('price-book.json', FIXTURES), 'utf8')));
const dyno = (app: string, key: string, size: string, from: string, to: string | null): SeedUsage => ({
  app,
  kind: 'dyno',
  key,
  product: `dyno:${size}`,
  from,
  ...(to === null ? {} : { to }),
});
const addon = (app: string, key: string, product: string, from: string, to: string | null): SeedUsage => ({
  app,
  kind: 'addon',
  key,
  product,
  from,
  ...(to === null ? {} : { to }),
});
const owner = (app: string, account: string, from: string, to: string | null = null): SeedOwner => ({
  app,
  account,
  from,
  ...(to === null ? {} : { to }),
});
const brief = (lines: { key: string; product: string; quantity: string; amount: string | null }[]) =>
  lines.map((l) => [l.key, l.product, l.quantity, l.amount]);

// One database for the file; each case's apps and accounts get their own ids.
let db: TestDatabase;
before(async () => {
  db = await billingDatabase();
});
after(() => db?.drop());

let worlds = 0;

/**
 * One case's metering data: its usage and ownership written as metering
 * publishes them, its app and account ids prefixed so that no other case's
 * data reaches its invoices (`bare` keeps the ids as given, for the October
 * example). Results come back with the prefix taken off again.
 */
async function world(usage: readonly SeedUsage[], ownership: readonly SeedOwner[], { bare = false } = {}) {
  const p = bare ? '' : `r${++worlds}-`;
  const unprefix = (id: string) => (id.startsWith(p) ? id.slice(p.length) : id);
  await seedUsage(
    db.pool,
    usage.map((u) => ({ ...u, app: p + u.app })),
  );
  await seedOwners(
    db.pool,
    ownership.map((o) => ({ ...o, app: p + o.app, account: p + o.account })),
  );
  return {
    /**
     * The account's invoice for a month as finalize and the drafts API compute
     * it (Billing.draft's scope): usage up to `until`, the month's end by
     * default, so an open interval counts to it; late-usage adjustments included.
     */
    async invoice(account: string, key: string, { until, book = prices }: { until?: string; book?: PriceBook } = {}) {
      const period = parsePeriod(key);
      const { drafts } = await computeDrafts(db.pool, book, {
        period,
        until: until ? new Date(until) : period.end.toJSDate(),
        accounts: [p + account],
        adjustments: true,
      });
      const draft = drafts.get(p + account)!;
      return {
        ...draft,
        account_id: unprefix(draft.account_id),
        lines: draft.lines.map((l) => ({ ...l, app_id: unprefix(l.app_id) })),
        holds: draft.holds.map((h) => ({ ...h, app_id: unprefix(h.app_id) })),
      };
    },
    /** Finalizes a month as the schedule and `vault finalize` do, once it is past its grace period. */
    async finalize(key: string) {
      const now = parsePeriod(key).end.plus({ days: 10 });
      await createBilling({ pool: db.pool, prices, graceHours: 72, now: () => now }).finalize(key);
    },
    /** The holds report (GET /v1/holds) for one account's month. */
    holds: async (account: string, key: string) =>
      (await createBilling({ pool: db.pool, prices, graceHours: 72 }).holds(key, p + account)).held.map((h) => h.holds),
    finalized: async (account: string) =>
      (await createBilling({ pool: db.pool, prices, graceHours: 72 }).invoices(p + account)).map((i) => i.period),
    /** Metering learns late that a running dyno or add-on stopped at `at`. */
    stop: (app: string, key: string, at: string) => seedStop(db.pool, p + app, key, at),
    /** Usage metering learns after the fact. */
    late: (usage: readonly SeedUsage[]) =>
      seedUsage(
        db.pool,
        usage.map((u) => ({ ...u, app: p + u.app })),
      ),
  };
}

describe('periods', () => {
  const cases: [string, number, string, string][] = [
    ['2026-10', 2_678_400, '2026-10-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
    ['2026-11', 2_592_000, '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'],
    ['2028-02', 2_505_600, '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    ['2027-02', 2_419_200, '2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z'],
    ['2026-12', 2_678_400, '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
  ];
  for (const [key, seconds, start, end] of cases) {
    test(`${key} is [${start}, ${end}) and lasts ${seconds} s`, () => {
      const p = parsePeriod(key);
      assert.deepEqual([p.seconds, p.start.toISO(), p.end.toISO()], [seconds, start, end]);
    });
  }
  test('months follow each other across a year end, and an instant falls in its UTC month', () => {
    assert.equal(nextPeriod(parsePeriod('2026-12')).key, '2027-01');
    assert.equal(previousPeriod(parsePeriod('2027-01')).key, '2026-12');
    assert.equal(periodContaining(DateTime.fromISO('2026-11-01T00:30:00+01:00')).key, '2026-10');
  });
  test('anything but YYYY-MM is refused, naming what was given', () => {
    for (const bad of ['2026-13', '2026-1', '26-10', '2026-10-01', '']) assert.throws(() => parsePeriod(bad), /YYYY-MM/);
  });
});

describe('rating through the SQL aggregate and pricing', () => {
  test("october.ndjson's usage gives exactly october-invoices.json", async () => {
    const w = await world(
      [
        dyno('app-1', 'web.1', 'standard-1x', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
        dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null),
        dyno('app-2', 'worker.1', 'basic', '2026-09-28T08:00:00Z', null),
        dyno('app-2', 'run.4821', 'standard-2x', '2026-10-07T12:00:00Z', '2026-10-07T13:30:00Z'),
        addon('app-1', 'addon-pg1', 'addon:heroku-postgresql:essential-0', '2026-10-05T00:00:00Z', '2026-10-20T00:00:00Z'),
        addon('app-1', 'addon-pg1', 'addon:heroku-postgresql:standard-0', '2026-10-20T00:00:00Z', null),
        addon('app-2', 'addon-log1', 'addon:papertrail:choklad', '2026-10-02T00:00:00Z', '2026-10-03T00:00:00Z'),
      ],
      [
        owner('app-1', 'acct-1', '2026-09-15T09:30:00Z'),
        owner('app-2', 'acct-1', '2026-09-20T00:00:00Z', '2026-10-16T00:00:00Z'),
        owner('app-2', 'acct-2', '2026-10-16T00:00:00Z'),
      ],
      { bare: true },
    );
    const expected = octoberInvoices;
    for (const want of expected) {
      const got = await w.invoice(want.account_id, '2026-10');
      assert.equal(got.total, want.total, want.account_id);
      assert.deepEqual(got.lines.map(statedLine), want.lines);
    }
  });

  const cases: {
    name: string;
    account?: string;
    period: string;
    usage: SeedUsage[];
    ownership?: SeedOwner[];
    lines: unknown[];
    total: string;
  }[] = [
    {
      name: 'February of a leap year lasts 2,505,600 s: a whole month is 1 month, a day is 1/29',
      period: '2028-02',
      usage: [
        dyno('app-1', 'web.1', 'standard-1x', '2028-01-20T00:00:00Z', '2028-03-02T00:00:00Z'),
        dyno('app-1', 'worker.1', 'standard-1x', '2028-02-29T00:00:00Z', '2028-03-01T00:00:00Z'),
      ],
      lines: [
        ['web.1', 'dyno:standard-1x', '1.0000000', '25.00'],
        ['worker.1', 'dyno:standard-1x', '0.0344828', '0.86'],
      ],
      total: '25.86',
    },
    {
      name: 'overlapping restarts of one slot add up past a month but the line is capped at the monthly price',
      period: '2026-10',
      usage: [
        dyno('app-1', 'web.1', 'performance-m', '2026-10-01T00:00:00Z', '2026-10-20T00:00:00Z'),
        dyno('app-1', 'web.1', 'performance-m', '2026-10-18T00:00:00Z', null),
      ],
      lines: [['web.1', 'dyno:performance-m', '1.0645161', '250.00']],
      total: '250.00',
    },
    // app-1 passes from acct-a to acct-b on Oct 16 while its worker runs all month.
    ...(
      [
        ['acct-a', 'the first owner pays up to the transfer', '0.4838710', '3.39'],
        ['acct-b', 'the second owner pays from the transfer on', '0.5161290', '3.61'],
      ] as const
    ).map(([account, who, quantity, amount]) => ({
      name: `a transfer mid-month splits the usage at its instant: ${who}`,
      account,
      period: '2026-10',
      usage: [dyno('app-1', 'worker.1', 'basic', '2026-09-01T00:00:00Z', null)],
      ownership: [
        owner('app-1', 'acct-a', '2026-01-01T00:00:00Z', '2026-10-16T00:00:00Z'),
        owner('app-1', 'acct-b', '2026-10-16T00:00:00Z'),
      ],
      lines: [['worker.1', 'dyno:basic', quantity, amount]],
      total: amount,
    })),
    ...(['2026-09', '2026-10', '2026-11'] as const).map((period, i) => ({
      name: `an interval from Sep 15 to Nov 15 counts in each of its three months (${period})`,
      period,
      usage: [dyno('app-1', 'web.1', 'basic', '2026-09-15T00:00:00Z', '2026-11-15T00:00:00Z')],
      lines: [
        [
          ['web.1', 'dyno:basic', '0.5333333', '3.73'],
          ['web.1', 'dyno:basic', '1.0000000', '7.00'],
          ['web.1', 'dyno:basic', '0.4666667', '3.27'],
        ][i],
      ],
      total: ['3.73', '7.00', '3.27'][i]!,
    })),
    {
      name: 'a free plan gives a line of 0.00',
      period: '2026-10',
      usage: [addon('app-1', 'addon-s', 'addon:scheduler:standard', '2026-10-01T00:00:00Z', null)],
      lines: [['addon-s', 'addon:scheduler:standard', '1.0000000', '0.00']],
      total: '0.00',
    },
    {
      name: 'a product without a price has a quantity but no amount, and adds nothing to the total',
      period: '2026-10',
      usage: [
        addon('app-1', 'addon-x', 'addon:mystery:huge', '2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z'),
        dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null),
      ],
      lines: [
        ['addon-x', 'addon:mystery:huge', '0.0322581', null],
        ['web.1', 'dyno:basic', '1.0000000', '7.00'],
      ],
      total: '7.00',
    },
    {
      name: "usage outside the owner's span or the period is not billed to it",
      period: '2026-10',
      usage: [
        dyno('app-1', 'web.1', 'basic', '2026-08-01T00:00:00Z', '2026-10-01T00:00:00Z'),
        dyno('app-2', 'web.1', 'basic', '2026-10-01T00:00:00Z', null),
      ],
      lines: [],
      total: '0.00',
    },
    {
      name: 'a line is rounded once, half up: exactly half a cent becomes a cent',
      period: '2026-10',
      // 1,339.2 s of 2,678,400 is 0.0005 months; at 10.00 a month, 0.005.
      usage: [dyno('app-1', 'web.1', 'ten', '2026-10-01T00:00:00Z', '2026-10-01T00:22:19.200Z')],
      lines: [['web.1', 'dyno:ten', '0.0005000', '0.01']],
      total: '0.01',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const book = { ...prices, products: { ...prices.products, 'dyno:ten': '10.00' } };
      const w = await world(c.usage, c.ownership ?? [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')]);
      const got = await w.invoice(c.account ?? 'acct-1', c.period, { book });
      assert.deepEqual(brief(got.lines), c.lines);
      assert.equal(got.total, c.total);
    });
  }

  test('an open interval counts up to "now" in current usage', async () => {
    const w = await world(
      [dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null)],
      [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')],
    );
    const got = await w.invoice('acct-1', '2026-10', { until: '2026-10-11T00:00:00Z' });
    assert.deepEqual(
      got.lines.map((l) => l.ms),
      [12 * 3600 * 1000],
    );
  });

  test("usage while an app has no owner is unowned: it holds the owner's invoice and is billed to no one", async () => {
    const w = await world(
      [dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)],
      [owner('app-1', 'acct-1', '2026-10-02T00:00:00Z', '2026-10-30T00:00:00Z')],
    );
    const got = await w.invoice('acct-1', '2026-10');
    // Oct 1 and Oct 30 to Nov 1: three days no one owned.
    assert.deepEqual(got.holds, [{ reason: 'unowned', app_id: 'app-1', detail: `${3 * 86_400} s of usage while the app had no owner` }]);
    assert.deepEqual(
      got.lines.map((l) => l.ms),
      [28 * 86_400_000],
    );
  });
});

describe("late usage through finalize and the next month's draft", () => {
  test('a late dyno.stopped for a finalized month becomes a credit that names the month, app and line key', async () => {
    const w = await world(
      [
        dyno('app-1', 'web.1', 'standard-1x', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
        dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null),
      ],
      [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')],
    );
    await w.finalize('2026-10');
    assert.deepEqual(await w.finalized('acct-1'), ['2026-10']);
    await w.stop('app-1', 'web.1', '2026-10-20T00:00:00Z');
    const november = await w.invoice('acct-1', '2026-11');
    const adjustments = november.lines.filter((l) => l.kind === 'adjustment');
    assert.deepEqual(
      adjustments.map((l) => [l.kind, l.app_id, l.key, l.product, l.adjusts, l.amount, l.quantity]),
      // Billable months: 19.5/31 − 1 (capped at one), not the raw -12/31 (-0.3870968 × 25.00 = -9.68).
      [['adjustment', 'app-1', 'web.1', 'dyno:standard-1x', '2026-10', '-9.27', '-0.3709677']],
    );
    assert.equal(invoiceTotal(adjustments), '-9.27');
  });

  test('nothing late, no adjustment; a line that appears late is a charge', async () => {
    const w = await world(
      [dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)],
      [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')],
    );
    await w.finalize('2026-10');
    assert.deepEqual(await w.finalized('acct-1'), ['2026-10']);
    const adjustmentsOf = async () => (await w.invoice('acct-1', '2026-11')).lines.filter((l) => l.kind === 'adjustment');
    assert.deepEqual(await adjustmentsOf(), []);
    await w.late([addon('app-1', 'addon-r', 'addon:heroku-redis:mini', '2026-10-01T00:00:00Z', null)]);
    assert.deepEqual(
      (await adjustmentsOf()).map((l) => [l.key, l.amount]),
      [['addon-r', '3.00']],
    );
  });

  test('a price changed after finalize never re-prices the month: late usage is charged at the price the month charged', async () => {
    const w = await world(
      [
        dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null),
        dyno('app-1', 'web.2', 'basic', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
        dyno('app-1', 'web.2', 'basic', '2026-10-10T12:00:00Z', null),
      ],
      [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')],
    );
    await w.finalize('2026-10');
    // basic goes from 7.00 to 9.00; a late stop of web.2, and a late add-on never charged before.
    const dearer = { ...prices, products: { ...prices.products, 'dyno:basic': '9.00', 'addon:heroku-redis:mini': '4.00' } };
    await w.stop('app-1', 'web.2', '2026-10-20T00:00:00Z');
    await w.late([addon('app-1', 'addon-r', 'addon:heroku-redis:mini', '2026-10-01T00:00:00Z', null)]);
    const adjustments = (await w.invoice('acct-1', '2026-11', { book: dearer })).lines.filter((l) => l.kind === 'adjustment');
    // web.1 changed nothing: no line. web.2 ran 31.5 days (capped at 7.00), now 19.5: 4.40 at 7.00,
    // -2.60 (at 9.00 it would be -1.34). The add-on is new to the month: the book's 4.00.
    assert.deepEqual(
      adjustments.map((l) => [l.key, l.unit_price, l.amount]),
      [
        ['addon-r', '4.00', '4.00'],
        ['web.2', '7.00', '-2.60'],
      ],
    );
  });

  test('late usage of a product without a price holds the next invoice (unpriced, naming the month) until it has one', async () => {
    const w = await world(
      [dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)],
      [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')],
    );
    await w.finalize('2026-10');
    await w.late([addon('app-1', 'addon-x', 'addon:mystery:huge', '2026-10-21T00:00:00Z', '2026-10-31T00:00:00Z')]);
    const held = await w.invoice('acct-1', '2026-11');
    assert.deepEqual(
      held.lines.filter((l) => l.kind === 'adjustment').map((l) => [l.key, l.adjusts, l.quantity, l.amount]),
      [['addon-x', '2026-10', '0.3225806', null]],
    );
    assert.deepEqual(held.holds, [
      { reason: 'unpriced', app_id: 'app-1', detail: 'addon:mystery:huge has no price in the price book (late usage of 2026-10)' },
    ]);
    // The holds report lists it too, as finalize will hold it.
    assert.deepEqual(
      (await w.holds('acct-1', '2026-11')).flat().map((h) => [h.reason, h.detail]),
      [['unpriced', 'addon:mystery:huge has no price in the price book (late usage of 2026-10)']],
    );
    assert.deepEqual(await w.holds('acct-1', '2099-06'), [], 'a month yet to come carries no late usage: nothing holds it');
    const priced = await w.invoice('acct-1', '2026-11', {
      book: { ...prices, products: { ...prices.products, 'addon:mystery:huge': '31.00' } },
    });
    assert.deepEqual(priced.holds, []);
    assert.deepEqual(
      priced.lines.filter((l) => l.kind === 'adjustment').map((l) => [l.key, l.amount, l.description]),
      [['addon-x', '10.00', 'Charge for 2026-10: mystery:huge (addon-x)']],
    );
  });
});
