// The billing rules (shared/spec/billing-rules.md) as pure functions: periods,
// proration, the monthly cap, ownership, rounding and adjustments.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { PriceBook } from '@vault/contracts';
import { adjustmentLines, invoiceTotal, priceLines } from '../src/domain/lines.ts';
import { nextPeriod, parsePeriod, periodContaining, previousPeriod } from '../src/domain/period.ts';
import { accountUsage, unownedMs, type OwnershipSpan, type UsageSpan } from '../src/domain/usage.ts';

/** The repository's copies of the platform's examples and price book. */
const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
const prices = PriceBook.parse(JSON.parse(readFileSync(new URL('price-book.json', FIXTURES), 'utf8')));
const ms = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' }).toMillis();
const dyno = (appId: string, key: string, size: string, from: string, to: string | null): UsageSpan =>
  ({ appId, kind: 'dyno', key, product: `dyno:${size}`, fromMs: ms(from), toMs: to === null ? null : ms(to) });
const addon = (appId: string, key: string, product: string, from: string, to: string | null): UsageSpan =>
  ({ appId, kind: 'addon', key, product, fromMs: ms(from), toMs: to === null ? null : ms(to) });
const owner = (appId: string, accountId: string, from: string, to: string | null = null): OwnershipSpan =>
  ({ appId, accountId, fromMs: ms(from), toMs: to === null ? null : ms(to) });

/** The invoice an account gets for a finalized period: open intervals count to the period's end. */
function invoice(accountId: string, key: string, usage: UsageSpan[], ownership: OwnershipSpan[], book = prices) {
  const period = parsePeriod(key);
  const lines = priceLines(accountUsage(accountId, period, usage, ownership, period.end.toMillis()), period, book);
  return { lines, total: invoiceTotal(lines) };
}
const brief = (lines: { key: string; product: string; quantity: string; amount: string | null }[]) =>
  lines.map((l) => [l.key, l.product, l.quantity, l.amount]);

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

describe('rating', () => {
  test('october.ndjson\'s usage gives exactly october-invoices.json', () => {
    const usage = [
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null),
      dyno('app-2', 'worker.1', 'basic', '2026-09-28T08:00:00Z', null),
      dyno('app-2', 'run.4821', 'standard-2x', '2026-10-07T12:00:00Z', '2026-10-07T13:30:00Z'),
      addon('app-1', 'addon-pg1', 'addon:heroku-postgresql:essential-0', '2026-10-05T00:00:00Z', '2026-10-20T00:00:00Z'),
      addon('app-1', 'addon-pg1', 'addon:heroku-postgresql:standard-0', '2026-10-20T00:00:00Z', null),
      addon('app-2', 'addon-log1', 'addon:papertrail:choklad', '2026-10-02T00:00:00Z', '2026-10-03T00:00:00Z'),
    ];
    const ownership = [
      owner('app-1', 'acct-1', '2026-09-15T09:30:00Z'),
      owner('app-2', 'acct-1', '2026-09-20T00:00:00Z', '2026-10-16T00:00:00Z'),
      owner('app-2', 'acct-2', '2026-10-16T00:00:00Z'),
    ];
    const expected = JSON.parse(readFileSync(new URL('october-invoices.json', FIXTURES), 'utf8')) as {
      account_id: string; total: string; lines: Record<string, string>[];
    }[];
    for (const want of expected) {
      const got = invoice(want.account_id, '2026-10', usage, ownership);
      assert.equal(got.total, want.total, want.account_id);
      assert.deepEqual(
        got.lines.map(({ app_id, kind, key, product, quantity, unit_price, amount }) => ({ app_id, kind, key, product, quantity, unit_price, amount })),
        want.lines,
      );
    }
  });

  const cases: { name: string; account?: string; period: string; usage: UsageSpan[]; ownership?: OwnershipSpan[]; lines: unknown[]; total: string }[] = [
    {
      name: 'February of a leap year lasts 2,505,600 s: a whole month is 1 month, a day is 1/29',
      period: '2028-02',
      usage: [
        dyno('app-1', 'web.1', 'standard-1x', '2028-01-20T00:00:00Z', '2028-03-02T00:00:00Z'),
        dyno('app-1', 'worker.1', 'standard-1x', '2028-02-29T00:00:00Z', '2028-03-01T00:00:00Z'),
      ],
      lines: [['web.1', 'dyno:standard-1x', '1.0000000', '25.00'], ['worker.1', 'dyno:standard-1x', '0.0344828', '0.86']],
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
    ...([['acct-a', 'the first owner pays up to the transfer', '0.4838710', '3.39'],
         ['acct-b', 'the second owner pays from the transfer on', '0.5161290', '3.61']] as const).map(([account, who, quantity, amount]) => ({
      name: `a transfer mid-month splits the usage at its instant: ${who}`,
      account,
      period: '2026-10',
      usage: [dyno('app-1', 'worker.1', 'basic', '2026-09-01T00:00:00Z', null)],
      ownership: [owner('app-1', 'acct-a', '2026-01-01T00:00:00Z', '2026-10-16T00:00:00Z'), owner('app-1', 'acct-b', '2026-10-16T00:00:00Z')],
      lines: [['worker.1', 'dyno:basic', quantity, amount]],
      total: amount,
    })),
    ...(['2026-09', '2026-10', '2026-11'] as const).map((period, i) => ({
      name: `an interval from Sep 15 to Nov 15 counts in each of its three months (${period})`,
      period,
      usage: [dyno('app-1', 'web.1', 'basic', '2026-09-15T00:00:00Z', '2026-11-15T00:00:00Z')],
      lines: [[['web.1', 'dyno:basic', '0.5333333', '3.73'], ['web.1', 'dyno:basic', '1.0000000', '7.00'], ['web.1', 'dyno:basic', '0.4666667', '3.27']][i]],
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
      lines: [['addon-x', 'addon:mystery:huge', '0.0322581', null], ['web.1', 'dyno:basic', '1.0000000', '7.00']],
      total: '7.00',
    },
    {
      name: 'usage outside the owner\'s span or the period is not billed to it',
      period: '2026-10',
      usage: [dyno('app-1', 'web.1', 'basic', '2026-08-01T00:00:00Z', '2026-10-01T00:00:00Z'), dyno('app-2', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)],
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
    test(c.name, () => {
      const book = { ...prices, products: { ...prices.products, 'dyno:ten': '10.00' } };
      const got = invoice(c.account ?? 'acct-1', c.period, c.usage, c.ownership ?? [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')], book);
      assert.deepEqual(brief(got.lines), c.lines);
      assert.equal(got.total, c.total);
    });
  }

  test('an open interval counts up to "now" in current usage', () => {
    const period = parsePeriod('2026-10');
    const usage = [dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null)];
    const lines = accountUsage('acct-1', period, usage, [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')], ms('2026-10-11T00:00:00Z'));
    assert.deepEqual(lines.map((l) => l.ms), [12 * 3600 * 1000]);
  });

  test('usage while an app has no owner is counted as unowned, and not given to anyone', () => {
    const period = parsePeriod('2026-10');
    const usage = [dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)];
    const ownership = [owner('app-1', 'acct-1', '2026-10-02T00:00:00Z', '2026-10-30T00:00:00Z')];
    assert.equal(unownedMs(usage, ownership, period, period.end.toMillis()), 3 * 86_400_000);
    assert.equal(accountUsage('acct-1', period, usage, ownership, period.end.toMillis())[0]?.ms, 28 * 86_400_000);
  });
});

describe('late usage', () => {
  test('a late dyno.stopped for a finalized month becomes a credit that names the month, app and line key', () => {
    const period = parsePeriod('2026-10');
    const ownership = [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')];
    const billed = invoice('acct-1', '2026-10', [
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', null),
    ], ownership);
    const now = invoice('acct-1', '2026-10', [
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-01T00:00:00Z', '2026-10-11T00:00:00Z'),
      dyno('app-1', 'web.1', 'standard-1x', '2026-10-10T12:00:00Z', '2026-10-20T00:00:00Z'),
    ], ownership);
    const adjustments = adjustmentLines(billed.lines, now.lines, period);
    assert.deepEqual(
      adjustments.map((l) => [l.kind, l.app_id, l.key, l.product, l.adjusts, l.amount, l.quantity]),
      [['adjustment', 'app-1', 'web.1', 'dyno:standard-1x', '2026-10', '-9.27', '-0.3870968']],
    );
    assert.equal(invoiceTotal(adjustments), '-9.27');
  });

  test('nothing late, no adjustment; a line that appears late is a charge', () => {
    const period = parsePeriod('2026-10');
    const ownership = [owner('app-1', 'acct-1', '2026-01-01T00:00:00Z')];
    const before = invoice('acct-1', '2026-10', [dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null)], ownership);
    assert.deepEqual(adjustmentLines(before.lines, before.lines, period), []);
    const after = invoice('acct-1', '2026-10', [
      dyno('app-1', 'web.1', 'basic', '2026-10-01T00:00:00Z', null),
      addon('app-1', 'addon-r', 'addon:heroku-redis:mini', '2026-10-01T00:00:00Z', null),
    ], ownership);
    assert.deepEqual(adjustmentLines(before.lines, after.lines, period).map((l) => [l.key, l.amount]), [['addon-r', '3.00']]);
  });
});
