// Late usage's candidates (docs/contracts/invoicing.md, "Late usage"): for an
// account with an invoice of the month before, a month's threshold is the
// later of its invoice's finalization and that invoice's (the run that
// finalized it carried everything learned until then), less the margin; an
// account without one keeps its invoices' own. fast-check writes random
// histories (three finalized months, ownership and usage learned at random
// instants) and holds both statements — LATE_CANDIDATES, what finalize runs,
// and LATE_CANDIDATES_SCOPED, what a draft runs — to a plain restatement of
// that rule, and checks that the histories did leave rows out that the
// invoices' own thresholds alone would have kept. Invoices carry adjustment
// lines to earlier months (an October invoice only those): a month charged an
// app through an adjustment too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TestDatabase } from '@vault/testkit';
import { LATE_CANDIDATES, LATE_CANDIDATES_SCOPED } from '../src/billing/late-usage.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { clearFixture, type Fixture, writeFixture } from './scoped-fixture.ts';
import { billingDatabase } from './seed.ts';

const RUNS = Number(process.env.LATE_RULE_RUNS ?? 100);
const HOUR = 3_600_000;
const MARGIN = HOUR; // LATE_MARGIN_INTERVAL
const BASE = Date.parse('2026-07-01T00:00:00Z');
const BEFORE = new Date('2026-10-01T00:00:00Z');
const ACCOUNTS = ['a', 'b', 'c'];
const APPS = ['x', 'y', 'z'];
const MONTHS = [
  { key: '2026-07', start: Date.parse('2026-07-01T00:00:00Z'), end: Date.parse('2026-08-01T00:00:00Z') },
  { key: '2026-08', start: Date.parse('2026-08-01T00:00:00Z'), end: Date.parse('2026-09-01T00:00:00Z') },
  { key: '2026-09', start: Date.parse('2026-09-01T00:00:00Z'), end: Date.parse('2026-10-01T00:00:00Z') },
];
const PREVIOUS = '2026-09';
/** A month after BEFORE: its invoice only carries adjustments to earlier ones (as `vault archive`'s cut can leave). */
const OCTOBER = { key: '2026-10', start: Date.parse('2026-10-01T00:00:00Z'), end: Date.parse('2026-11-01T00:00:00Z') };
/** The (month, app) pairs an invoice of MONTHS[m] may adjust: months before it. */
const adjustable = (m: number) => MONTHS.slice(0, m).flatMap((month) => APPS.map((app) => ({ period: month.key, app })));
const at = (hours: number) => new Date(BASE + hours * HOUR).toISOString();

const hours = (min: number, max: number) => fc.integer({ min, max });
// Learned at any time, or in the days after a month's end, when its invoices are finalized: the
// rows the thresholds tell apart.
const learned = fc.oneof(
  hours(0, 2600),
  fc.constantFrom(744, 1488, 2208).chain((end) => hours(end, end + 400)),
);
const arb = fc.record({
  owners: fc.tuple(
    ...APPS.map(() =>
      fc.record({
        segments: fc.array(fc.record({ len: hours(24, 1200), owner: fc.option(fc.constantFrom(...ACCOUNTS), { nil: null }), learned }), {
          minLength: 1,
          maxLength: 4,
        }),
        open: fc.boolean(),
      }),
    ),
  ),
  usage: fc.array(fc.record({ app: fc.constantFrom(...APPS), at: hours(0, 2500), len: fc.option(hours(1, 600), { nil: null }), learned }), {
    maxLength: 8,
  }),
  // Spans a late event made empty (a stop at its dyno's start): late rows at an instant.
  vanished: fc.array(fc.record({ app: fc.constantFrom(...APPS), at: hours(0, 2500), learned }), { maxLength: 3 }),
  invoices: fc.tuple(
    ...ACCOUNTS.map(() =>
      fc.tuple(
        // An invoice of a month half the time: accounts without one of the previous month keep their invoices' own thresholds.
        ...MONTHS.map((_, m) =>
          fc.option(
            fc.record({
              after: hours(0, 400),
              apps: fc.subarray(APPS, { maxLength: 2 }),
              adjusts: fc.subarray(adjustable(m), { maxLength: Math.min(2, adjustable(m).length) }),
            }),
            { nil: null, freq: 2 },
          ),
        ),
      ),
    ),
  ),
  // An invoice after BEFORE carrying adjustments only, now and then.
  october: fc.tuple(
    ...ACCOUNTS.map(() =>
      fc.option(fc.record({ after: hours(0, 400), adjusts: fc.subarray(adjustable(MONTHS.length), { minLength: 1, maxLength: 2 }) }), {
        nil: null,
        freq: 3,
      }),
    ),
  ),
});
type History = typeof arb extends fc.Arbitrary<infer T> ? T : never;

function fixtureOf(h: History): Fixture {
  const fx: Fixture = { owners: [], usage: [], invoices: [], gaps: [], vanished: [] };
  h.owners.forEach((o, i) => {
    let from = 0;
    o.segments.forEach((s, k) => {
      const to = o.open && k === o.segments.length - 1 ? null : from + s.len;
      if (s.owner)
        fx.owners.push({ app: APPS[i]!, account: s.owner, from: at(from), to: to === null ? null : at(to), learnedAt: at(s.learned) });
      from += s.len;
    });
  });
  for (const u of h.usage)
    fx.usage.push({ app: u.app, from: at(u.at), to: u.len === null ? null : at(u.at + u.len), learnedAt: at(u.learned) });
  for (const v of h.vanished) fx.vanished!.push({ app: v.app, at: at(v.at), learnedAt: at(v.learned) });
  for (const [a, months] of h.invoices.entries()) {
    for (const [m, inv] of months.entries()) {
      if (!inv) continue;
      const month = MONTHS[m]!;
      fx.invoices.push({
        account: ACCOUNTS[a]!,
        period: month.key,
        finalizedAt: new Date(month.end + inv.after * HOUR).toISOString(),
        apps: inv.apps,
        adjusts: inv.adjusts,
      });
    }
  }
  for (const [a, inv] of h.october.entries()) {
    if (!inv) continue;
    const finalizedAt = new Date(OCTOBER.end + inv.after * HOUR).toISOString();
    fx.invoices.push({ account: ACCOUNTS[a]!, period: OCTOBER.key, finalizedAt, apps: [], adjusts: inv.adjusts });
  }
  return fx;
}

/** `[lo, hi)`, or the instant `[lo, lo]` when `point` (a vanished span). */
type Span = { lo: number; hi: number; point?: boolean };
const span = (from: string, to: string | null): Span => ({
  lo: Date.parse(from),
  hi: to === null ? Number.POSITIVE_INFINITY : Date.parse(to),
});
const inSpan = (t: number, s: Span) => s.lo <= t && t < s.hi;
const overlaps = (a: Span, b: Span) => (a.point ? inSpan(a.lo, b) : b.point ? inSpan(b.lo, a) : a.lo < b.hi && b.lo < a.hi);
const ALL: Span = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };

/**
 * The rule restated: each finalized month's apps (owned in the month, or charged) with a row
 * learned after its threshold that overlaps the month, or for a charged app starts before its end.
 * Charged: a line of the month's invoice (of any kind: an adjustment it carries to an earlier
 * month too, a spurious candidate at most) or an adjustment to the month on any of the account's
 * invoices, later ones after BEFORE included.
 */
function expected(fx: Fixture, previousCounts: boolean, vanishedCounts = true, adjustedCounts = true): Set<string> {
  const previous = new Map(fx.invoices.filter((i) => i.period === PREVIOUS).map((i) => [i.account, Date.parse(i.finalizedAt)]));
  const out = new Set<string>();
  for (const inv of fx.invoices) {
    const m = [...MONTHS, OCTOBER].find((x) => x.key === inv.period)!;
    if (m.start >= BEFORE.getTime()) continue;
    const month = { lo: m.start, hi: m.end };
    const prev = previousCounts ? (previous.get(inv.account) ?? Number.NEGATIVE_INFINITY) : Number.NEGATIVE_INFINITY;
    const since = Math.max(Date.parse(inv.finalizedAt), prev) - MARGIN;
    const apps = [
      ...fx.owners
        .filter((o) => o.account === inv.account && overlaps(span(o.from, o.to), month))
        .map((o) => ({ app: o.app, within: span(o.from, o.to), charged: false })),
      ...[...inv.apps, ...(inv.adjusts ?? []).map((a) => a.app)].map((app) => ({ app, within: ALL, charged: true })),
      ...fx.invoices
        .filter((j) => adjustedCounts && j.account === inv.account)
        .flatMap((j) => (j.adjusts ?? []).filter((a) => a.period === inv.period))
        .map((a) => ({ app: a.app, within: ALL, charged: true })),
    ];
    for (const { app, within, charged } of apps) {
      // An app the month charged: a row learned late that starts before the month ends may have
      // replaced one that ran through it (a stop learned late), so it need not overlap the month.
      const reaches = (s: Span) => overlaps(s, month) || (charged && s.lo < month.hi);
      const late = (r: { app: string; learnedAt: string }, s: Span) =>
        r.app === app && Date.parse(r.learnedAt) > since && reaches(s) && overlaps(s, within);
      const row = (r: { app: string; from: string; to: string | null; learnedAt: string }) => late(r, span(r.from, r.to));
      const gone = (v: { app: string; at: string; learnedAt: string }) =>
        vanishedCounts && late(v, { lo: Date.parse(v.at), hi: Date.parse(v.at), point: true });
      if (fx.usage.some(row) || fx.owners.some(row) || (fx.vanished ?? []).some(gone)) out.add(`${inv.account}:${inv.period}:${app}`);
    }
  }
  return out;
}

const keys = (rows: readonly { account_id: string; period: string; app_id: string }[]) =>
  [...new Set(rows.map((r) => `${r.account_id}:${r.period}:${r.app_id}`))].sort();

describe('late usage candidates: a month’s threshold moves up to the account’s invoice of the month before (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('a row learned after an August invoice but before the account’s September one is late only for an account without a September invoice', async () => {
    const learned = '2026-09-20T00:00:00Z';
    const fx: Fixture = {
      owners: [
        { app: 'x', account: 'a', from: '2026-07-01T00:00:00Z', to: null, learnedAt: '2026-07-01T00:00:00Z' },
        { app: 'y', account: 'b', from: '2026-07-01T00:00:00Z', to: null, learnedAt: '2026-07-01T00:00:00Z' },
      ],
      // A stop in August each app's August invoice did not see: learned after it, before September's.
      usage: [
        { app: 'x', from: '2026-08-10T00:00:00Z', to: '2026-08-12T00:00:00Z', learnedAt: learned },
        { app: 'y', from: '2026-08-10T00:00:00Z', to: '2026-08-12T00:00:00Z', learnedAt: learned },
      ],
      invoices: [
        { account: 'a', period: '2026-08', finalizedAt: '2026-09-03T00:00:00Z', apps: ['x'] },
        { account: 'a', period: '2026-09', finalizedAt: '2026-10-03T00:00:00Z', apps: ['x'] },
        { account: 'b', period: '2026-08', finalizedAt: '2026-09-03T00:00:00Z', apps: ['y'] },
      ],
      gaps: [],
    };
    await clearFixture(db.pool);
    await writeFixture(db.pool, fx);
    // a's September run saw the row and carried it; b has had no run since its August invoice.
    assert.deepEqual([...expected(fx, true)], ['b:2026-08:y']);
    for (const [sql, accounts] of [
      [LATE_CANDIDATES, null],
      [LATE_CANDIDATES_SCOPED, ACCOUNTS],
    ] as const) {
      const { rows } = await db.pool.query(sql, [BEFORE, accounts, LATE_MARGIN_INTERVAL]);
      assert.deepEqual(keys(rows), ['b:2026-08:y']);
    }
  });

  test('a span made empty late is a late row at its instant: for the month it is in, and for a later month that charged its app', async () => {
    const fx: Fixture = {
      owners: [{ app: 'x', account: 'a', from: '2026-07-01T00:00:00Z', to: null, learnedAt: '2026-07-01T00:00:00Z' }],
      usage: [],
      // A dyno started August 10, charged by August and September; its stop at that instant learned in October.
      vanished: [{ app: 'x', at: '2026-08-10T00:00:00Z', learnedAt: '2026-10-02T00:00:00Z' }],
      invoices: [
        { account: 'a', period: '2026-07', finalizedAt: '2026-08-03T00:00:00Z', apps: [] },
        { account: 'a', period: '2026-08', finalizedAt: '2026-09-03T00:00:00Z', apps: ['x'] },
        { account: 'a', period: '2026-09', finalizedAt: '2026-10-01T00:00:00Z', apps: ['x'] },
      ],
      gaps: [],
    };
    await clearFixture(db.pool);
    await writeFixture(db.pool, fx);
    const want = ['a:2026-08:x', 'a:2026-09:x'];
    assert.deepEqual([...expected(fx, true)].sort(), want);
    for (const [sql, accounts] of [
      [LATE_CANDIDATES, null],
      [LATE_CANDIDATES_SCOPED, ACCOUNTS],
    ] as const) {
      const { rows } = await db.pool.query(sql, [BEFORE, accounts, LATE_MARGIN_INTERVAL]);
      assert.deepEqual(keys(rows), want);
    }
  });

  test(`over ${RUNS} random histories, LATE_CANDIDATES and LATE_CANDIDATES_SCOPED give exactly the rule's candidates, and the histories left some out`, async () => {
    let leftOut = 0;
    let kept = 0;
    let byVanished = 0;
    let byAdjustment = 0;
    await fc.assert(
      fc.asyncProperty(arb, async (h) => {
        const fx = fixtureOf(h);
        await clearFixture(db.pool);
        await writeFixture(db.pool, fx);
        const want = [...expected(fx, true)].sort();
        const all = await db.pool.query(LATE_CANDIDATES, [BEFORE, null, LATE_MARGIN_INTERVAL]);
        assert.deepEqual(keys(all.rows), want, 'LATE_CANDIDATES');
        const scoped = await db.pool.query(LATE_CANDIDATES_SCOPED, [BEFORE, ACCOUNTS, LATE_MARGIN_INTERVAL]);
        assert.deepEqual(keys(scoped.rows), want, 'LATE_CANDIDATES_SCOPED');
        leftOut += expected(fx, false).size - want.length;
        kept += want.length;
        byVanished += want.length - expected(fx, true, false).size;
        byAdjustment += want.length - expected(fx, true, true, false).size;
      }),
      { numRuns: RUNS },
    );
    assert.ok(
      leftOut > 0 && kept > 0 && byVanished > 0 && byAdjustment > 0,
      `the histories exercised the rule: ${kept} candidates kept (${byVanished} only by a vanished span, ${byAdjustment} only as charged by an adjustment), ${leftOut} left out`,
    );
  });
});
