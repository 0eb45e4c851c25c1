// The holds report for every account (GET /v1/holds as finance and the admin
// call it) drafts only the accounts something may hold (holds-report.ts); what
// it answers is what computeDrafts for every account gave before, month by
// month, on months that finalize and late usage really wrote.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import fc from 'fast-check';
import type pg from 'pg';
import type { HoldList, PriceBook } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { computeDrafts } from '../src/billing/compute-drafts.ts';
import { holdCandidates } from '../src/billing/holds-report.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { basicDyno, billingDatabase, seedGap, seedOwners, seedStop, seedUsage, type SeedOwner, type SeedUsage } from './seed.ts';

const prices = loadPriceBook();
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
const JUL = '2026-07-01T00:00:00Z';
const AUG = '2026-08-01T00:00:00Z';

/** Usage metering learned as it happened (never late for a month finalized after). */
const onTime = (u: SeedUsage): SeedUsage => ({ ...u, learnedAt: u.from });
const owned = (app: string, account: string, from = JUL, to?: string): SeedOwner => ({
  app,
  account,
  from,
  ...(to === undefined ? {} : { to }),
  learnedAt: from,
});
const usage = (app: string, key: string, product: string, from: string, to?: string): SeedUsage => ({
  app,
  kind: product.startsWith('dyno:') ? 'dyno' : 'addon',
  key,
  product,
  from,
  ...(to === undefined ? {} : { to }),
});

/** What the report answered before: computeDrafts for every account, its held drafts, then usage no one owned. */
async function unscopedHolds(pool: pg.Pool, book: PriceBook, key: string, now: DateTime): Promise<HoldList> {
  const period = parsePeriod(key);
  const until = now.toJSDate();
  const scope = { period, until, unfinalizedOnly: true, adjustments: period.start.toJSDate() <= until };
  const { drafts, ownerless } = await computeDrafts(pool, book, scope);
  const held: HoldList['held'] = [...drafts.values()]
    .filter((d) => d.holds.length > 0)
    .map((d) => ({ account_id: d.account_id, period: key, holds: d.holds }));
  if (ownerless.length > 0) held.push({ account_id: null, period: key, holds: ownerless });
  return { period: key, held };
}

/** The accounts in one order (computeDrafts' was the SQL's), usage no one owned last. */
const byAccount = (list: HoldList): HoldList => ({
  ...list,
  held: [...list.held].sort((a, b) => (a.account_id ?? '\uffff').localeCompare(b.account_id ?? '\uffff')),
});

/** A pool that counts the rows its statements bring into this process: what the report holds in memory. */
function countingPool(pool: pg.Pool): { pool: pg.Pool; rows: () => number } {
  let rows = 0;
  const query = async (...args: unknown[]) => {
    const result = await (pool.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args);
    rows += result.rows.length;
    return result;
  };
  const counted = new Proxy(pool, {
    get: (target, prop) => (prop === 'query' ? query : Reflect.get(target, prop, target)),
  });
  return { pool: counted, rows: () => rows };
}

describe('the holds report for every account drafts only the accounts something may hold', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db.drop());

  const billingAt = (now: DateTime, book: PriceBook = prices, pool: pg.Pool = db.pool) =>
    createBilling({ pool, prices: book, graceHours: 72, now: () => now });

  test('held by a gap, unowned usage, an unpriced product in usage and in a late adjustment, ownerless usage, finalized accounts left out: every month answers what computeDrafts for every account gave, and reads no more rows for accounts nothing holds', async () => {
    const fine = Array.from({ length: 30 }, (_, i) => `ok-${String(i).padStart(2, '0')}`);
    await seedOwners(db.pool, [
      ...fine.map((a) => owned(`${a}-app`, a)),
      owned('gap-app', 'gap-a'),
      owned('unpriced-app', 'unpriced-a'),
      // The shared app has no owner from Sep 10 to Sep 15: both owners are held in September.
      owned('shared-app', 'u-1', JUL, '2026-09-10T00:00:00Z'),
      owned('shared-app', 'u-2', '2026-09-15T00:00:00Z'),
      owned('late-u-app', 'late-u'),
      owned('late-p-app', 'late-p'),
      owned('fin-gap-app', 'fin-gap'),
      owned('fin-up-app', 'fin-unpriced'),
      owned('removed-app', 'removed'),
      owned('removed-gap-app', 'removed'),
      // Held with nothing to bill: its app has a gap and no usage.
      owned('gap-only-app', 'gap-only'),
    ]);
    await seedUsage(
      db.pool,
      [
        ...fine.map((a) => basicDyno(`${a}-app`, '2026-07-15T00:00:00Z')),
        basicDyno('gap-app', AUG),
        basicDyno('unpriced-app', AUG),
        usage('unpriced-app', 'web.2', 'dyno:quantum-9x', '2026-09-03T00:00:00Z', '2026-09-05T00:00:00Z'),
        basicDyno('shared-app', AUG),
        basicDyno('late-u-app', AUG),
        basicDyno('late-p-app', AUG),
        basicDyno('late-p-app', AUG, undefined, undefined, 'web.2'),
        basicDyno('fin-gap-app', AUG),
        basicDyno('fin-up-app', AUG),
        usage('removed-app', 'web.1', 'dyno:performance-m', AUG),
        // No owner ever.
        basicDyno('nobody-app', '2026-09-02T00:00:00Z', '2026-09-04T00:00:00Z'),
        basicDyno('nobody-app', '2026-10-02T00:00:00Z', '2026-10-03T00:00:00Z'),
      ].map(onTime),
    );
    await seedGap(db.pool, 'gap-app', 'gap-app-gap', '2026-09-05T00:00:00Z');
    await seedGap(db.pool, 'gap-only-app', 'gap-only-gap', null);
    await seedGap(db.pool, 'removed-gap-app', 'removed-gap', '2026-09-01T00:00:00Z');

    await billingAt(at('2026-09-10T00:00:00Z')).finalize('2026-08');
    // Learned after August was finalized: late usage of a product without a price, a late stop of a
    // priced dyno, and a late stop of one whose product the book will drop (its month's price stays).
    await seedUsage(db.pool, [usage('late-u-app', 'addon-x', 'addon:mystery:huge', '2026-08-20T00:00:00Z', '2026-08-25T00:00:00Z')]);
    await seedStop(db.pool, 'late-p-app', 'web.2', '2026-08-20T00:00:00Z');
    await seedStop(db.pool, 'removed-app', 'web.1', '2026-08-25T00:00:00Z');
    const september = await billingAt(at('2026-10-10T00:00:00Z')).finalize('2026-09');
    assert.equal(september.held, 7, 'gap-a, unpriced-a, u-1, u-2, late-u, gap-only and removed are held');
    // After September was finalized: a gap and late unpriced usage of finalized accounts, and removed's gap gone.
    await seedGap(db.pool, 'fin-gap-app', 'fin-gap-gap', '2026-09-20T00:00:00Z');
    await seedUsage(db.pool, [usage('fin-up-app', 'web.9', 'dyno:quantum-9x', '2026-09-21T00:00:00Z', '2026-09-22T00:00:00Z')]);
    await db.pool.query(`delete from metering.subject_gaps where subject = 'removed-gap'`);

    const now = at('2026-10-20T00:00:00Z');
    const { 'dyno:performance-m': _dropped, ...rest } = prices.products;
    const books = { full: prices, 'without performance-m': { ...prices, products: rest } };
    const reasons = (list: HoldList) =>
      Object.fromEntries(byAccount(list).held.map((h) => [h.account_id ?? 'nobody', h.holds.map((x) => `${x.reason}:${x.app_id}`)]));

    const sep = await billingAt(now).holds('2026-09');
    assert.deepEqual(reasons(sep), {
      'gap-a': ['gap:gap-app'],
      'gap-only': ['gap:gap-only-app'],
      'late-u': ['unpriced:late-u-app'],
      'u-1': ['unowned:shared-app'],
      'u-2': ['unowned:shared-app'],
      'unpriced-a': ['unpriced:unpriced-app'],
      nobody: ['unowned:nobody-app'],
    });
    const oct = await billingAt(now).holds('2026-10');
    assert.deepEqual(reasons(oct), {
      'fin-gap': ['gap:fin-gap-app'],
      'fin-unpriced': ['unpriced:fin-up-app'],
      'gap-a': ['gap:gap-app'],
      'gap-only': ['gap:gap-only-app'],
      'late-u': ['unpriced:late-u-app'],
      nobody: ['unowned:nobody-app'],
    });
    assert.match(oct.held.find((h) => h.account_id === 'fin-unpriced')!.holds[0]!.detail, /late usage of 2026-09/);

    // Without performance-m in the book, removed's late credit for August is still priced at what August
    // charged: a candidate (its month had usage of a product the book lacks), not held.
    const sepScope = { period: parsePeriod('2026-09'), until: now.toJSDate(), adjustments: true };
    assert.ok((await holdCandidates(db.pool, books['without performance-m'], sepScope)).accounts.includes('removed'));
    assert.ok(!(await holdCandidates(db.pool, prices, sepScope)).accounts.includes('removed'));
    assert.deepEqual(reasons(await billingAt(now, books['without performance-m']).holds('2026-09')), reasons(sep));

    const compareAll = async () => {
      for (const [name, book] of Object.entries(books)) {
        for (const key of ['2026-07', '2026-08', '2026-09', '2026-10', '2026-11']) {
          assert.deepEqual(
            byAccount(await billingAt(now, book).holds(key)),
            byAccount(await unscopedHolds(db.pool, book, key, now)),
            `${key} with the ${name} price book`,
          );
        }
      }
    };
    await compareAll();

    // Accounts nothing holds bring no row into the report: 40 more of them read exactly as many rows.
    const counted = countingPool(db.pool);
    await billingAt(now, prices, counted.pool).holds('2026-10');
    const before = counted.rows();
    const more = Array.from({ length: 40 }, (_, i) => `more-${i}`);
    await seedOwners(
      db.pool,
      more.map((a) => owned(`${a}-app`, a, '2026-10-01T00:00:00Z')),
    );
    await seedUsage(
      db.pool,
      more.map((a) => onTime(basicDyno(`${a}-app`, '2026-10-01T00:00:00Z'))),
    );
    await billingAt(now, prices, counted.pool).holds('2026-10');
    assert.equal(counted.rows() - before, before, 'the report read the same rows with 40 more accounts held by nothing');
    await compareAll();
  });

  test('for random months (ownership with ownerless spans, usage of priced and unpriced products, gaps, late usage and late stops after August and September were finalized) every month answers what computeDrafts for every account gave, with either price book', async () => {
    const products = ['dyno:basic', 'dyno:quantum-9x', 'addon:heroku-redis:mini', 'addon:mystery:huge'];
    const start = Date.parse('2026-07-28T00:00:00Z');
    const hours = (h: number) => new Date(start + h * 3_600_000).toISOString();
    // Six-hour steps up to October 20 (the report's clock), so bounds of different rows often meet.
    const step = (min: number, max: number) => fc.integer({ min, max }).map((n) => n * 6);
    const row = fc.record({ at: step(0, 330), len: fc.option(step(1, 120), { nil: null }), product: fc.constantFrom(...products) });
    const app = fc.record({
      segments: fc.array(fc.record({ len: step(1, 200), owner: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      usage: fc.array(row, { maxLength: 3 }),
      // Learned after August was finalized (stops of its running rows too), then after September was.
      lateAug: fc.array(row, { maxLength: 2 }),
      stops: fc.array(step(1, 120), { maxLength: 2 }),
      lateSep: fc.array(row, { maxLength: 2 }),
      gap: fc.option(fc.option(step(0, 330), { nil: null }), { nil: undefined }),
    });
    let runs = 0;
    const { 'dyno:basic': _basic, ...rest } = prices.products;
    const books = { full: prices, 'without dyno:basic': { ...prices, products: rest } };
    const seen = { held: 0, ownerless: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(app, { minLength: 1, maxLength: 4 }), async (apps) => {
        // Each run's ids are its own; earlier runs' months stay in the database and in the report.
        const p = `p${++runs}-`;
        const rowsOf = (id: string, rows: readonly { at: number; len: number | null; product: string }[], learned: boolean) =>
          rows.map((r, k): SeedUsage => {
            const u = usage(
              id,
              `k${k}-${learned ? 'late' : 'on'}-${r.at}`,
              r.product,
              hours(r.at),
              r.len === null ? undefined : hours(r.at + r.len),
            );
            return learned ? u : onTime(u);
          });
        for (const [i, a] of apps.entries()) {
          const id = `${p}app-${i}`;
          let t = 0;
          const owners: SeedOwner[] = [];
          for (const [k, s] of a.segments.entries()) {
            const last = k === a.segments.length - 1;
            if (s.owner) owners.push(owned(id, `${p}${s.owner}`, hours(t), last ? undefined : hours(t + s.len)));
            t += s.len;
          }
          await seedOwners(db.pool, owners);
          await seedUsage(db.pool, rowsOf(id, a.usage, false));
          if (a.gap !== undefined) await seedGap(db.pool, id, `${id}-gap`, a.gap === null ? null : hours(a.gap));
        }
        await billingAt(at('2026-09-10T00:00:00Z')).finalize('2026-08');
        for (const [i, a] of apps.entries()) {
          const id = `${p}app-${i}`;
          await seedUsage(db.pool, rowsOf(id, a.lateAug, true));
          const running = a.usage.flatMap((r, k) => (r.len === null ? [{ key: `k${k}-on-${r.at}`, at: r.at }] : []));
          for (const [k, after] of a.stops.entries()) {
            const r = running[k];
            if (r) await seedStop(db.pool, id, r.key, hours(r.at + after));
          }
        }
        await billingAt(at('2026-10-10T00:00:00Z')).finalize('2026-09');
        for (const [i, a] of apps.entries()) await seedUsage(db.pool, rowsOf(`${p}app-${i}`, a.lateSep, true));

        const now = at('2026-10-20T00:00:00Z');
        for (const [name, book] of Object.entries(books)) {
          for (const key of ['2026-08', '2026-09', '2026-10']) {
            // This run's accounts and apps (each run's ids are its own), so a counterexample shrinks to its own months.
            const own = (list: HoldList): HoldList => ({
              ...list,
              held: list.held
                .map((h) => (h.account_id === null ? { ...h, holds: h.holds.filter((x) => x.app_id.startsWith(p)) } : h))
                .filter((h) => (h.account_id === null ? h.holds.length > 0 : h.account_id.startsWith(p))),
            });
            const report = own(await billingAt(now, book).holds(key));
            assert.deepEqual(
              byAccount(report),
              byAccount(own(await unscopedHolds(db.pool, book, key, now))),
              `${key} with the ${name} price book`,
            );
            seen.held += report.held.filter((h) => h.account_id !== null).length;
            seen.ownerless += report.held.filter((h) => h.account_id === null).length;
          }
        }
      }),
      // No shrinking: each step would finalize two more months; the seed replays the failing run.
      { numRuns: 25, endOnFailure: true },
    );
    // The random months did hold accounts, and usage no one owned.
    assert.ok(seen.held > 0 && seen.ownerless > 0, JSON.stringify(seen));
  });
});
