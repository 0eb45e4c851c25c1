// Issue 19: an account's current usage read from the maintained aggregates
// (invoicing.usage_days plus what is read live) equals the live computation
// (LINE_USAGE_SQL, readDailyUsage) for random months on the real PostgreSQL:
// microsecond bounds, running intervals, transfers and ownerless spans, and
// late changes (stops learned late, intervals derived again as metering does,
// new intervals, transfers) before, during and after the fold job runs. So
// does finalize's read of the whole month (invoicing.usage_months plus what is
// read live), and its unowned-usage holds (invoicing.unowned_months and
// usage_running plus what is read live) equal the live UNOWNED statement's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TestDatabase } from '@vault/testkit';
import { readAccountDays, readAccountUsage } from '../src/billing/account-usage.ts';
import { readHolds } from '../src/billing/holds.ts';
import { readDailyUsage, readLineUsage } from '../src/billing/line-usage.ts';
import { openMonthStream } from '../src/billing/finalize-stream.ts';
import { foldAllUsageChanges, foldUsageChanges } from '../src/billing/usage-days.ts';
import { parsePeriod } from '../src/domain/period.ts';
import type { LineUsage } from '../src/domain/usage.ts';
import type { Hold } from '@vault/contracts';
import { billingDatabase } from './seed.ts';

const RUNS = Number(process.env.USAGE_DAYS_RUNS ?? 60);
const MONTH_START = Date.parse('2026-10-01T00:00:00Z');
const MONTH_END = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const ACCOUNTS = ['acct-a', 'acct-b', 'acct-c'];
const APPS = ['app-1', 'app-2', 'app-3'];
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
const scenarioArb = fc.record({
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

let db: TestDatabase;
let subjectCount = 0;

async function writeSubject(s: Subject): Promise<void> {
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
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ($1, $2, $3, $4, $5, tstzrange($6, $7, '[)'), now())`,
      [name, s.product.startsWith('addon') ? 'addon' : 'dyno', s.app, key, s.product, start, last && s.open ? null : end],
    );
  }
}

async function writeOwners(app: string, spans: readonly { account?: string; hours: number }[]): Promise<void> {
  let at = 0;
  for (const [i, span] of spans.entries()) {
    const to = i === spans.length - 1 ? null : instant(at + span.hours, 0);
    if (span.account) {
      await db.pool.query(
        `insert into metering.app_ownership (app_id, account_id, during, learned_at) values ($1, $2, tstzrange($3, $4, '[)'), now())`,
        [app, span.account, instant(at, 0), to],
      );
    }
    at += span.hours;
  }
}

type Late = typeof lateArb extends fc.Arbitrary<infer T> ? T : never;

/** A change metering makes after the month was first folded. */
async function applyLate(late: Late): Promise<void> {
  if (late.kind === 'new') return writeSubject(late.subject);
  if (late.kind === 'transfer') {
    const at = instant(late.hours, 0);
    // The current owner's span (if it started before) ends; the new owner's begins.
    await db.pool.query(
      `update metering.app_ownership set during = tstzrange(lower(during), $2, '[)')
        where app_id = $1 and upper_inf(during) and lower(during) < $2`,
      [late.app, at],
    );
    const { rowCount } = await db.pool.query(
      `select 1 from metering.app_ownership where app_id = $1 and (upper_inf(during) or upper(during) > $2)`,
      [late.app, at],
    );
    if (rowCount === 0) {
      await db.pool.query(
        `insert into metering.app_ownership (app_id, account_id, during, learned_at) values ($1, $2, tstzrange($3, null, '[)'), now())`,
        [late.app, late.to, at],
      );
    }
    return;
  }
  const { rows } = await db.pool.query<{ subject: string }>('select distinct subject from metering.usage_intervals order by 1');
  if (rows.length === 0) return;
  const subject = rows[late.pick % rows.length]!.subject;
  if (late.kind === 'stop') {
    // A stop learned late: the running interval closes (if the stop is after its start).
    await db.pool.query(
      `update metering.usage_intervals set during = tstzrange(lower(during), lower(during) + $2 * interval '1 hour', '[)'), learned_at = now()
        where subject = $1 and upper_inf(during)`,
      [subject, late.hours],
    );
    return;
  }
  // Derived again as metering does: the subject's intervals deleted, then written back with the last one's end moved.
  const { rows: intervals } = await db.pool.query<{
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
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       select $1, $2, $3, $4, $5,
              tstzrange($6::timestamptz, case when $7::timestamptz is null then null when $8 then greatest($7::timestamptz + $9 * interval '1 hour', $6::timestamptz + interval '1 millisecond') else $7::timestamptz end, '[)'),
              now()`,
      [subject, r.kind, r.app_id, r.key, r.product, r.lo, r.hi, r.last, late.shift],
    );
  }
}

const sorted = <T>(xs: readonly T[]) => [...xs].map((x) => JSON.stringify(x)).sort();

/** For every account and `until`, the aggregates' answer equals the live one, lines and days. */
async function assertSameAsLive(untils: readonly number[], when: string): Promise<void> {
  for (const offset of untils) {
    const until = new Date(MONTH_START + offset);
    const from = new Date(MONTH_START);
    const live = await readLineUsage(db.pool, { from, to: until });
    const days: { from: Date; to: Date }[] = [];
    for (let d = MONTH_START; d < until.getTime(); d += 24 * HOUR)
      days.push({ from: new Date(d), to: new Date(Math.min(d + 24 * HOUR, until.getTime())) });
    for (const account of ACCOUNTS) {
      const fast = await readAccountUsage(db.pool, { account, from, to: until });
      assert.deepEqual(sorted(fast ?? []), sorted(live.get(account) ?? []), `${when}: lines of ${account} until ${until.toISOString()}`);
      const fastDays = await readAccountDays(db.pool, { account, from, to: until });
      const liveDays = await readDailyUsage(db.pool, account, days);
      assert.deepEqual(sorted(fastDays ?? []), sorted(liveDays), `${when}: days of ${account} until ${until.toISOString()}`);
    }
  }
  await assertMonthSameAsLive(when);
}

/** Finalize's stream of the month (aggregates plus live parts) gives every account the live statements' lines and holds. */
async function assertMonthSameAsLive(when: string): Promise<void> {
  const period = parsePeriod('2026-10');
  const month = { from: period.start.toJSDate(), to: period.end.toJSDate() };
  const live = await readLineUsage(db.pool, month);
  const liveHolds = await readHolds(db.pool, month);
  const streamed = new Map<string, LineUsage[]>();
  const streamedHolds = new Map<string, Hold[]>();
  const stream = await openMonthStream(db.pool, period);
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

const AGGREGATES = ['usage_days', 'usage_months', 'unowned_months', 'usage_running'];

/**
 * Every aggregate row, every month (September and November too), equals what
 * a fold of every app's whole history computes: a fold from a change's month
 * on (metering migration 017) keeps the months before it right.
 */
async function assertSameAsRefolded(): Promise<void> {
  const snapshot = async () => {
    const out: Record<string, string[]> = {};
    for (const table of AGGREGATES) out[table] = sorted((await db.pool.query(`select * from invoicing.${table}`)).rows);
    return out;
  };
  const folded = await snapshot();
  await db.pool.query(`insert into metering.usage_changes (apps) values ($1)`, [APPS]);
  await foldAllUsageChanges(db.pool);
  assert.deepEqual(folded, await snapshot(), 'the aggregates folded from each change on equal those of a fold of all history');
}

describe('usage aggregates (real PostgreSQL)', () => {
  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test(`over ${RUNS} random months, one account's usage and finalize's month from the aggregates equal the live computation, before and after late changes are folded`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        await db.pool.query(
          'truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
        );
        for (const s of scenario.subjects) await writeSubject(s);
        for (const [i, spans] of scenario.owners.entries()) await writeOwners(APPS[i]!, spans);
        await assertSameAsLive(scenario.untils, 'nothing folded');
        await foldAllUsageChanges(db.pool);
        const { rows } = await db.pool.query<{ n: string }>('select count(*)::text as n from metering.usage_changes');
        assert.equal(rows[0]!.n, '0', 'a full fold leaves nothing queued');
        await assertSameAsLive(scenario.untils, 'folded');
        for (const late of scenario.late) await applyLate(late);
        if (scenario.foldAfter === 'some') await foldUsageChanges(db.pool, 1);
        if (scenario.foldAfter === 'all') await foldAllUsageChanges(db.pool);
        await assertSameAsLive([...scenario.untils, MONTH_END - MONTH_START], `late changes, fold ${scenario.foldAfter}`);
        await foldAllUsageChanges(db.pool);
        await assertSameAsLive([...scenario.untils, MONTH_END - MONTH_START], 'late changes folded');
        await assertSameAsRefolded();
      }),
      { numRuns: RUNS },
    );
  });

  test('usage settled by metering’s archive (its months’ tables pruned by last_month) reads as it did live: lines, days, the fold, finalize’s month and holds', async () => {
    await db.pool.query(
      'truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
    );
    await writeOwners('app-1', [{ account: 'acct-a', hours: 2000 }]);
    // Ending in September; exactly at October's first instant (still September's); crossing into October;
    // and in October, around the day the windows below start on.
    const spans = [
      ['settled-sep', '2026-09-26T00:00:00Z', '2026-09-27T00:00:00Z'],
      ['settled-edge', '2026-09-28T12:00:00Z', '2026-10-01T00:00:00Z'],
      ['settled-cross', '2026-09-30T00:00:00Z', '2026-10-02T06:00:00Z'],
      ['settled-oct', '2026-10-09T18:00:00Z', '2026-10-10T06:00:00Z'],
    ] as const;
    for (const [subject, from, to] of spans)
      await db.pool.query(
        `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
         values ($1, 'dyno', 'app-1', $1, 'dyno:basic', tstzrange($2, $3), now())`,
        [subject, from, to],
      );
    const october = { from: new Date(MONTH_START), to: new Date(MONTH_END) };
    const windows = [
      october,
      { from: new Date('2026-10-10T00:00:00Z'), to: new Date(MONTH_END) },
      { from: new Date('2026-09-01T00:00:00Z'), to: new Date(MONTH_START) },
    ];
    const read = async () => {
      await foldAllUsageChanges(db.pool);
      const out: unknown[] = [];
      for (const w of windows) {
        out.push(sorted((await readLineUsage(db.pool, w)).get('acct-a') ?? []));
        out.push(sorted((await readAccountUsage(db.pool, { account: 'acct-a', ...w })) ?? []));
        out.push(sorted((await readAccountDays(db.pool, { account: 'acct-a', ...w })) ?? []));
      }
      for (const table of AGGREGATES) out.push(sorted((await db.pool.query(`select * from invoicing.${table}`)).rows));
      await assertMonthSameAsLive('settled');
      return out;
    };
    const live = await read();
    await db.pool.query(
      `insert into metering.archived_subjects (subject, last_sequence, archive_file, closed)
       select s, 2, 'metering-events-2026-10-0001.ndjson.gz', true from unnest($1::text[]) s`,
      [spans.map((x) => x[0])],
    );
    await db.pool.query('select metering.settle_usage($1::text[])', [spans.map((x) => x[0])]);
    const { rows } = await db.pool.query(
      `select s.subject, s.tableoid::regclass::text as t, b.last_month::text from metering.settled_usage s
         join metering.billable_usage b on b.during = s.during order by lower(s.during)`,
    );
    assert.deepEqual(
      rows.map((r) => [r.subject, r.t, r.last_month]),
      [
        ['settled-sep', 'metering.settled_usage_2026_09', '2026-09-01'],
        ['settled-edge', 'metering.settled_usage_2026_09', '2026-09-01'],
        ['settled-cross', 'metering.settled_usage_2026_10', '2026-10-01'],
        ['settled-oct', 'metering.settled_usage_2026_10', '2026-10-01'],
      ],
    );
    await db.pool.query(`insert into metering.usage_changes (apps) values ('{app-1}')`);
    assert.deepEqual(await read(), live, 'the same lines, days and aggregates, settled or live');
    await db.pool.query('truncate metering.settled_usage, metering.archived_subjects');
  });

  test('a window that does not start on a UTC day is left to the live statement', async () => {
    const from = new Date(MONTH_START + HOUR);
    assert.equal(await readAccountUsage(db.pool, { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
    assert.equal(await readAccountDays(db.pool, { account: 'acct-a', from, to: new Date(MONTH_END) }), undefined);
  });

  test('every write to metering’s usage or ownership queues its app, whoever writes it', async () => {
    await db.pool.query('truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days');
    await writeSubject({ app: 'app-2', product: 'dyno:basic', steps: [{ gap: 1, hours: 2, micros: 0 }], open: false });
    await writeOwners('app-3', [{ account: 'acct-b', hours: 10 }]);
    await db.pool.query(`delete from metering.usage_intervals where app_id = 'app-2'`);
    const { rows } = await db.pool.query<{ apps: string[]; since: string }>(
      `select apps, to_char(since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as since from metering.usage_changes order by id`,
    );
    // Each row says from when it changes anything: the earliest start among the rows the statement wrote or cleared.
    assert.deepEqual(rows, [
      { apps: ['app-2'], since: '2026-09-25T01:00:00' },
      { apps: ['app-3'], since: '2026-09-25T00:00:00' },
      { apps: ['app-2'], since: '2026-09-25T01:00:00' },
    ]);
    // Per app: one statement writing an app of September and two of October queues a row per month.
    await db.pool.query('delete from metering.usage_changes');
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('q-1', 'dyno', 'app-1', 'web.1', 'dyno:basic', '[2026-09-30T00:00:00Z,2026-10-02T00:00:00Z)', now()),
              ('q-2', 'dyno', 'app-2', 'web.1', 'dyno:basic', '[2026-10-20T00:00:00Z,2026-10-21T00:00:00Z)', now()),
              ('q-3', 'dyno', 'app-3', 'web.1', 'dyno:basic', '[2026-10-05T00:00:00Z,)', now())`,
    );
    const perMonth = await db.pool.query<{ apps: string[]; since: string }>(
      `select apps, to_char(since at time zone 'UTC', 'YYYY-MM-DD') as since from metering.usage_changes order by since`,
    );
    assert.deepEqual(perMonth.rows, [
      { apps: ['app-1'], since: '2026-09-30' },
      { apps: ['app-2', 'app-3'], since: '2026-10-05' },
    ]);
  });

  test('a change folds its app again from its month on: the months before are not read again', async () => {
    await db.pool.query(
      'truncate metering.usage_intervals, metering.app_ownership, metering.usage_changes, invoicing.usage_days, invoicing.usage_months, invoicing.usage_running, invoicing.unowned_months',
    );
    await writeSubject({ app: 'app-1', product: 'dyno:basic', steps: [{ gap: 1, hours: 2, micros: 0 }], open: false });
    await writeOwners('app-1', [{ account: 'acct-a', hours: 2000 }]);
    await foldAllUsageChanges(db.pool);
    // September's day, changed by hand where the fold keeps it: a fold from October on leaves it as it is.
    await db.pool.query(`update invoicing.usage_days set ms = ms + 1 where app_id = 'app-1'`);
    await db.pool.query(
      `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
       values ('s-oct', 'dyno', 'app-1', 'web.9', 'dyno:basic', '[2026-10-02T00:00:00Z,2026-10-03T00:00:00Z)', now())`,
    );
    await foldAllUsageChanges(db.pool);
    const { rows } = await db.pool.query<{ day: string; ms: string }>(
      `select to_char(day at time zone 'UTC', 'YYYY-MM-DD') as day, ms::text from invoicing.usage_days where app_id = 'app-1' order by day`,
    );
    assert.deepEqual(rows, [
      { day: '2026-09-25', ms: String(2 * HOUR + 1) },
      { day: '2026-10-02', ms: String(24 * HOUR) },
    ]);
  });
});
