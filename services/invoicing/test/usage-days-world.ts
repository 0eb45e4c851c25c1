// The world of the usage-aggregate tests (issue 19): random months of
// metering's usage and ownership written as metering writes them, late
// changes, and the checks that the maintained aggregates answer as the live
// statements do (lines, days, finalize's month and holds) and as a fold of
// all history does.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import type { TestDatabase } from '@vault/testkit';
import { readAccountDays, readAccountUsage } from '../src/billing/account-usage.ts';
import { readHolds } from '../src/billing/holds.ts';
import { readDailyUsage, readLineUsage } from '../src/billing/line-usage.ts';
import { openMonthStream } from '../src/billing/finalize-stream.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { parsePeriod } from '../src/domain/period.ts';
import type { LineUsage } from '../src/domain/usage.ts';
import type { Hold } from '@vault/contracts';
import { billingDatabase } from './seed.ts';

export const MONTH_START = Date.parse('2026-10-01T00:00:00Z');
export const MONTH_END = Date.parse('2026-11-01T00:00:00Z');
export const HOUR = 3_600_000;
const ACCOUNTS = ['acct-a', 'acct-b', 'acct-c'];
export const APPS = ['app-1', 'app-2', 'app-3'];
const PRODUCTS = ['dyno:basic', 'dyno:standard-1x', 'addon:heroku-redis:mini'];

/** An instant with microseconds, `hours` (fractional) after six days before the month. */
const instant = (hours: number, micros: number) => {
  const ms = MONTH_START - 6 * 24 * HOUR + Math.round(hours * HOUR);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
};

// A subject: consecutive intervals (gaps between them), the last one maybe still running.
const subjectArb = fc.record({
  app: fc.constantFrom(...APPS),
  product: fc.constantFrom(...PRODUCTS),
  steps: fc.array(
    fc.record({
      gap: fc.double({ min: 0, max: 200, noNaN: true }),
      hours: fc.double({ min: 0.001, max: 300, noNaN: true }),
      micros: fc.nat(999),
    }),
    {
      minLength: 1,
      maxLength: 4,
    },
  ),
  open: fc.boolean(),
});
// An app's owners: consecutive spans, each an account or nobody, the last maybe open.
const ownersArb = fc.array(
  fc.record({ account: fc.option(fc.constantFrom(...ACCOUNTS), { nil: undefined }), hours: fc.double({ min: 1, max: 500, noNaN: true }) }),
  {
    minLength: 1,
    maxLength: 3,
  },
);
const lateArb = fc.oneof(
  fc.record({ kind: fc.constant('stop' as const), pick: fc.nat(), hours: fc.double({ min: 0.5, max: 400, noNaN: true }) }),
  fc.record({ kind: fc.constant('rederive' as const), pick: fc.nat(), shift: fc.double({ min: -5, max: 5, noNaN: true }) }),
  fc.record({ kind: fc.constant('new' as const), subject: subjectArb }),
  fc.record({
    kind: fc.constant('transfer' as const),
    app: fc.constantFrom(...APPS),
    to: fc.constantFrom(...ACCOUNTS),
    hours: fc.double({ min: 0, max: 900, noNaN: true }),
  }),
);
export const scenarioArb = fc.record({
  subjects: fc.array(subjectArb, { maxLength: 6 }),
  owners: fc.tuple(ownersArb, ownersArb, ownersArb),
  late: fc.array(lateArb, { maxLength: 4 }),
  // After the late changes: fold nothing, a part, or all.
  foldAfter: fc.constantFrom('none', 'some', 'all'),
  untils: fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: 31 * 24 * HOUR }),
      fc.integer({ min: 0, max: 31 }).map((d) => d * 24 * HOUR),
    ),
    { minLength: 1, maxLength: 3 },
  ),
});
type Subject = typeof subjectArb extends fc.Arbitrary<infer T> ? T : never;

let subjectCount = 0;

export async function writeSubject(pool: pg.Pool, s: Subject): Promise<void> {
  subjectCount += 1;
  const name = `s-${subjectCount}`;
  const key = s.product.startsWith('addon') ? name : `web.${subjectCount}`;
  let at = 0;
  let end: string | undefined;
  for (const [i, step] of s.steps.entries()) {
    const from = at + step.gap;
    // A short gap is none: the interval starts where the last one ended (a size change).
    const start = end !== undefined && step.gap < 0.01 ? end : instant(from, step.micros);
    at = from + step.hours;
    end = instant(at, (step.micros * 7) % 1000);
    const last = i === s.steps.length - 1;
    await pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ($1, $2, $3, $4, $5, tstzrange($6, $7, '[)'), now())`,
      [name, s.product.startsWith('addon') ? 'addon' : 'dyno', s.app, key, s.product, start, last && s.open ? null : end],
    );
  }
}

export async function writeOwners(pool: pg.Pool, app: string, spans: readonly { account?: string; hours: number }[]): Promise<void> {
  let at = 0;
  for (const [i, span] of spans.entries()) {
    const to = i === spans.length - 1 ? null : instant(at + span.hours, 0);
    if (span.account) {
      await pool.query(
        `insert into metering.app_ownership (app_id, account_id, during, learned_at) values ($1, $2, tstzrange($3, $4, '[)'), now())`,
        [app, span.account, instant(at, 0), to],
      );
    }
    at += span.hours;
  }
}

type Late = typeof lateArb extends fc.Arbitrary<infer T> ? T : never;

/** A change metering makes after the month was first folded. */
export async function applyLate(pool: pg.Pool, late: Late): Promise<void> {
  if (late.kind === 'new') return writeSubject(pool, late.subject);
  if (late.kind === 'transfer') {
    const at = instant(late.hours, 0);
    // The current owner's span (if it started before) ends; the new owner's begins.
    await pool.query(
      `update metering.app_ownership set during = tstzrange(lower(during), $2, '[)')
        where app_id = $1 and upper_inf(during) and lower(during) < $2`,
      [late.app, at],
    );
    const { rowCount } = await pool.query(
      `select 1 from metering.app_ownership where app_id = $1 and (upper_inf(during) or upper(during) > $2)`,
      [late.app, at],
    );
    if (rowCount === 0) {
      await pool.query(
        `insert into metering.app_ownership (app_id, account_id, during, learned_at) values ($1, $2, tstzrange($3, null, '[)'), now())`,
        [late.app, late.to, at],
      );
    }
    return;
  }
  const { rows } = await pool.query<{ subject: string }>('select distinct subject from metering.usage_intervals order by 1');
  if (rows.length === 0) return;
  const subject = rows[late.pick % rows.length]!.subject;
  if (late.kind === 'stop') {
    // A stop learned late: the running interval closes (if the stop is after its start).
    await pool.query(
      `update metering.usage_intervals set during = tstzrange(lower(during), lower(during) + $2 * interval '1 hour', '[)'), learned_at = now()
        where subject = $1 and upper_inf(during)`,
      [subject, late.hours],
    );
    return;
  }
  // Derived again as metering does: the subject's intervals deleted, then written back with the last one's end moved.
  const { rows: intervals } = await pool.query<{
    kind: string;
    app_id: string;
    key: string;
    product: string;
    lo: string;
    hi: string | null;
    last: boolean;
  }>(
    `delete from metering.usage_intervals where subject = $1
     returning kind, app_id, key, product, lower(during)::text as lo, upper(during)::text as hi,
               lower(during) = (select max(lower(during)) from metering.usage_intervals where subject = $1) as last`,
    [subject],
  );
  for (const r of intervals) {
    // The last interval's end moves by `shift` hours, never before its start; a running one stays running.
    await pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       select $1, $2, $3, $4, $5,
              tstzrange($6::timestamptz, case when $7::timestamptz is null then null when $8 then greatest($7::timestamptz + $9 * interval '1 hour', $6::timestamptz + interval '1 millisecond') else $7::timestamptz end, '[)'),
              now()`,
      [subject, r.kind, r.app_id, r.key, r.product, r.lo, r.hi, r.last, late.shift],
    );
  }
}

export const sorted = <T>(xs: readonly T[]) => [...xs].map((x) => JSON.stringify(x)).sort();

/** For every account and `until`, the aggregates' answer equals the live one, lines and days. */
export async function assertSameAsLive(pool: pg.Pool, untils: readonly number[], when: string): Promise<void> {
  for (const offset of untils) {
    const until = new Date(MONTH_START + offset);
    const from = new Date(MONTH_START);
    const live = await readLineUsage(pool, { from, to: until });
    const days: { from: Date; to: Date }[] = [];
    for (let d = MONTH_START; d < until.getTime(); d += 24 * HOUR)
      days.push({ from: new Date(d), to: new Date(Math.min(d + 24 * HOUR, until.getTime())) });
    for (const account of ACCOUNTS) {
      const fast = await readAccountUsage(pool, { account, from, to: until });
      assert.deepEqual(sorted(fast ?? []), sorted(live.get(account) ?? []), `${when}: lines of ${account} until ${until.toISOString()}`);
      const fastDays = await readAccountDays(pool, { account, from, to: until });
      const liveDays = await readDailyUsage(pool, account, days);
      assert.deepEqual(sorted(fastDays ?? []), sorted(liveDays), `${when}: days of ${account} until ${until.toISOString()}`);
    }
  }
  await assertMonthSameAsLive(pool, when);
}

/** Finalize's stream of the month (aggregates plus live parts) gives every account the live statements' lines and holds. */
export async function assertMonthSameAsLive(pool: pg.Pool, when: string): Promise<void> {
  const period = parsePeriod('2026-10');
  const month = { from: period.start.toJSDate(), to: period.end.toJSDate() };
  const live = await readLineUsage(pool, month);
  const liveHolds = await readHolds(pool, month);
  const streamed = new Map<string, LineUsage[]>();
  const streamedHolds = new Map<string, Hold[]>();
  const stream = await openMonthStream(pool, period);
  try {
    for await (const chunk of stream.chunks(2)) {
      // The cursors' rows (their account_id too), as the rating domain reads them.
      for (const a of chunk) {
        streamed.set(
          a.account,
          a.usage.map(({ appId, kind, key, product, ms }) => ({ appId, kind, key, product, ms })),
        );
        streamedHolds.set(a.account, a.holds);
      }
    }
  } finally {
    await stream.close();
  }
  for (const account of ACCOUNTS) {
    assert.deepEqual(sorted(streamed.get(account) ?? []), sorted(live.get(account) ?? []), `${when}: finalize's month of ${account}`);
    const held = liveHolds.filter((h) => h.account_id === account).map(({ account_id, ...hold }) => hold);
    assert.deepEqual(sorted(streamedHolds.get(account) ?? []), sorted(held), `${when}: finalize's holds of ${account}`);
  }
}

export const AGGREGATES = ['usage_days', 'usage_months', 'unowned_months', 'usage_running'];

/** Empties metering's usage and ownership and every usage aggregate: a scenario starts from nothing. */
export const clearUsage = (pool: pg.Pool) =>
  pool.query(
    'truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
  );

/**
 * Every aggregate row, every month (September and November too), equals what
 * a fold of every app's whole history computes: a fold from a change's month
 * on (metering migration 017) keeps the months before it right.
 */
export async function assertSameAsRefolded(pool: pg.Pool): Promise<void> {
  const snapshot = async () => {
    const out: Record<string, string[]> = {};
    for (const table of AGGREGATES) out[table] = sorted((await pool.query(`select * from invoicing.${table}`)).rows);
    return out;
  };
  const folded = await snapshot();
  await pool.query(`insert into metering.usage_changes (apps) values ($1)`, [APPS]);
  await foldAllUsageChanges(pool);
  assert.deepEqual(folded, await snapshot(), 'the aggregates folded from each change on equal those of a fold of all history');
}

/** A billing database for the suite that calls this: made before its tests, dropped after them. */
export function suitePool(): () => pg.Pool {
  let db: TestDatabase | undefined;
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  return () => db!.pool;
}
