import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TestDatabase } from '@vault/testkit';
import { readHolds } from '../src/billing/holds.ts';
import { lateCandidates } from '../src/billing/late-usage.ts';
import { LATE_MARGIN_INTERVAL } from '../src/billing/sql.ts';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { assertScopedEqualsUnscoped, assertViewEqualsLive, clearFixture, type Fixture, writeFixture } from './scoped-fixture.ts';
import { billingDatabase } from './seed.ts';

const october = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
const AUG = '2026-08-01T00:00:00Z';

describe('holds and late-usage candidates scoped to accounts, against the real PostgreSQL', () => {
  let db: TestDatabase;
  before(async () => {
    db = await billingDatabase();
  });
  after(() => db.drop());

  test('scoped to each account, holds (a shared app with unowned time, a mid-month transfer, a gap) and late candidates of both branches equal the unscoped rows', async () => {
    await clearFixture(db.pool);
    const fx: Fixture = {
      owners: [
        // Shared over time: a's, then five ownerless days, then b's.
        { app: 'shared', account: 'a', from: AUG, to: '2026-10-10T00:00:00Z', learnedAt: AUG },
        { app: 'shared', account: 'b', from: '2026-10-15T00:00:00Z', to: null, learnedAt: '2026-10-15T00:00:00Z' },
        // Transferred mid-month with no ownerless time: no hold.
        { app: 'moved', account: 'a', from: AUG, to: '2026-10-20T00:00:00Z', learnedAt: AUG },
        { app: 'moved', account: 'c', from: '2026-10-20T00:00:00Z', to: null, learnedAt: '2026-10-20T00:00:00Z' },
        { app: 'gappy', account: 'd', from: AUG, to: null, learnedAt: AUG },
        { app: 'late-owned', account: 'e', from: AUG, to: null, learnedAt: AUG },
        { app: 'e-other', account: 'e', from: AUG, to: null, learnedAt: AUG },
        // Charged to f in September; metering learned in October that g owned it then.
        { app: 'late-charged', account: 'f', from: AUG, to: '2026-09-01T00:00:00Z', learnedAt: AUG },
        { app: 'late-charged', account: 'g', from: '2026-09-01T00:00:00Z', to: null, learnedAt: '2026-10-04T00:00:00Z' },
      ],
      usage: [
        { app: 'shared', from: '2026-10-01T00:00:00Z', to: '2026-10-20T00:00:00Z', learnedAt: '2026-10-01T00:00:00Z' },
        { app: 'moved', from: '2026-10-05T00:00:00Z', to: '2026-10-25T00:00:00Z', learnedAt: '2026-10-05T00:00:00Z' },
        { app: 'gappy', from: '2026-10-02T00:00:00Z', to: null, learnedAt: '2026-10-02T00:00:00Z' },
        // Usage of September learned after e's September invoice: e owns the app, was not charged for it.
        { app: 'late-owned', from: '2026-09-10T00:00:00Z', to: '2026-09-12T00:00:00Z', learnedAt: '2026-10-03T00:00:00Z' },
        { app: 'e-other', from: '2026-09-10T00:00:00Z', to: '2026-09-11T00:00:00Z', learnedAt: '2026-09-10T00:00:00Z' },
      ],
      invoices: [
        { account: 'a', period: '2026-08', finalizedAt: '2026-09-01T06:00:00Z', apps: ['shared', 'moved'] },
        { account: 'a', period: '2026-09', finalizedAt: '2026-10-01T06:00:00Z', apps: ['shared', 'moved'] },
        { account: 'e', period: '2026-09', finalizedAt: '2026-10-01T06:00:00Z', apps: ['e-other'] },
        { account: 'f', period: '2026-09', finalizedAt: '2026-10-01T06:00:00Z', apps: ['late-charged'] },
      ],
      gaps: [
        { app: 'gappy', unreliableFrom: '2026-10-12T00:00:00Z' },
        // Unreliable only after the window: not this month's hold.
        { app: 'e-other', unreliableFrom: '2026-11-05T00:00:00Z' },
      ],
    };
    await writeFixture(db.pool, fx);
    const accounts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

    const holds = (await readHolds(db.pool, october)).map((h) => `${h.account_id}:${h.reason}:${h.app_id}:${h.detail}`).sort();
    assert.deepEqual(holds, [
      'a:unowned:shared:432000 s of usage while the app had no owner',
      'b:unowned:shared:432000 s of usage while the app had no owner',
      'd:gap:gappy:subject fx-gap-0 is missing sequence 2; its usage is unreliable from 2026-10-12T00:00:00.000Z',
    ]);
    const late = (await lateCandidates(db.pool, october.from, accounts, LATE_MARGIN_INTERVAL)).map(
      (c) => `${c.account_id}:${c.period}:${c.app_id}`,
    );
    // e through "owns the app now", f through "was charged for it" (g has no invoice).
    assert.deepEqual(late.sort(), ['e:2026-09:late-owned', 'f:2026-09:late-charged']);

    await assertScopedEqualsUnscoped(db.pool, accounts, october, october.from);
  });

  test('for random small months (transfers, ownerless spans, gaps, late usage, ownership and vanished spans after finalized months) the scoped rows of every account equal the unscoped ones, and its view in one read (draft, projection, days) equals the live drafts', async () => {
    const accounts = ['p-a', 'p-b', 'p-c', 'p-d'];
    const apps = ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'];
    const start = Date.parse('2026-07-28T00:00:00Z');
    const hours = (h: number) => new Date(start + h * 3_600_000).toISOString();
    const lateAt = (h: number) => new Date(Date.parse('2026-10-01T00:00:00Z') + h * 3_600_000).toISOString();
    // Six-hour steps, so bounds of different rows often meet.
    const step = (min: number, max: number) => fc.integer({ min, max }).map((n) => n * 6);
    const segment = fc.record({
      len: step(1, 160),
      owner: fc.option(fc.constantFrom(...accounts), { nil: null }),
      late: fc.option(step(0, 20), { nil: null }),
    });
    const appMonth = fc.record({
      segments: fc.array(segment, { minLength: 1, maxLength: 5 }),
      open: fc.boolean(),
      usage: fc.array(
        fc.record({ at: step(0, 420), len: fc.option(step(1, 60), { nil: null }), late: fc.option(step(0, 20), { nil: null }) }),
        { maxLength: 4 },
      ),
      // A span a late event made empty (metering migration 022).
      vanished: fc.array(fc.record({ at: step(0, 420), late: step(0, 20) }), { maxLength: 1 }),
    });
    const invoice = fc.option(fc.record({ after: fc.integer({ min: 0, max: 48 }), apps: fc.subarray(apps, { maxLength: 3 }) }), {
      nil: null,
    });
    const arb = fc.record({
      apps: fc.tuple(...apps.map(() => appMonth)),
      invoices: fc.tuple(...accounts.map(() => fc.tuple(invoice, invoice))),
      gaps: fc.array(fc.record({ app: fc.constantFrom(...apps), from: fc.option(step(0, 420), { nil: null }) }), { maxLength: 2 }),
      toDay: fc.integer({ min: 3, max: 31 }),
    });
    type Month = typeof arb extends fc.Arbitrary<infer T> ? T : never;
    const toFixture = (r: Month): Fixture => {
      const fx: Fixture = { owners: [], usage: [], invoices: [], gaps: [], vanished: [] };
      r.apps.forEach((m, i) => {
        const app = apps[i]!;
        let at = 0;
        m.segments.forEach((s, k) => {
          const to = m.open && k === m.segments.length - 1 ? null : at + s.len;
          if (s.owner)
            fx.owners.push({
              app,
              account: s.owner,
              from: hours(at),
              to: to === null ? null : hours(to),
              learnedAt: s.late === null ? hours(at) : lateAt(s.late),
            });
          at += s.len;
        });
        // One subject per row, so usage rows of an app may overlap as separate dynos do.
        for (const u of m.usage)
          fx.usage.push({
            app,
            from: hours(u.at),
            to: u.len === null ? null : hours(u.at + u.len),
            learnedAt: u.late === null ? hours(u.at) : lateAt(u.late),
          });
        for (const v of m.vanished) fx.vanished!.push({ app, at: hours(v.at), learnedAt: lateAt(v.late) });
      });
      r.invoices.forEach(([aug, sep], i) => {
        for (const [inv, period, end] of [
          [aug, '2026-08', '2026-09-01'],
          [sep, '2026-09', '2026-10-01'],
        ] as const) {
          if (inv)
            fx.invoices.push({
              account: accounts[i]!,
              period,
              finalizedAt: new Date(Date.parse(`${end}T00:00:00Z`) + inv.after * 3_600_000).toISOString(),
              apps: inv.apps,
            });
        }
      });
      fx.gaps = r.gaps.map((g) => ({ app: g.app, unreliableFrom: g.from === null ? null : hours(g.from) }));
      return fx;
    };
    const total = { holds: 0, unowned: 0, gaps: 0, late: 0 };
    await fc.assert(
      fc.asyncProperty(arb, async (r) => {
        await clearFixture(db.pool);
        await writeFixture(db.pool, toFixture(r));
        const window = { from: october.from, to: new Date(october.from.getTime() + r.toDay * 86_400_000) };
        const seen = await assertScopedEqualsUnscoped(db.pool, accounts, window, october.from);
        // The account's view in one read equals the live drafts, its apps queued (read live) and then folded.
        await assertViewEqualsLive(db.pool, accounts, window.to, window.to);
        await foldAllUsageChanges(db.pool);
        await assertViewEqualsLive(db.pool, accounts, window.to, window.to);
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += seen[k];
      }),
      { numRuns: 40 },
    );
    // The random months did hold accounts for each reason and find late months.
    assert.ok(total.unowned > 0 && total.gaps > 0 && total.late > 0, JSON.stringify(total));
  });
});
