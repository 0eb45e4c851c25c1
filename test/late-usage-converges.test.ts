// Late usage converges (docs/contracts/invoicing.md, Decisions,
// "Late usage"): whatever order a platform's events arrive in, however late, with
// sequence holes that fill later, repeated sequence numbers and re-deliveries,
// once every event has come and every due month has been finalized once more
// after the last arrival, each account's month charges, over its invoice's usage
// lines and every adjustment to it on later invoices, exactly what the month's
// usage prices at now, per line key and in total, to the cent; and no account
// with usage in a month lacks its invoice. Random histories (late-usage-world.ts)
// go through metering's consumer (applyRaw) and invoicing's finalize, in arrival
// order, time simulated as below. Three bugs of this class were found by hand
// on 2026-12-06 (3c9d816, 9e06428, a6f24b5, 6a3c663); this looks for the next.
//
// Simulated time. Production stores an event with received_at = the consumer
// transaction's now() and derives its subject's usage in the same statement, each
// interval learned at the latest received_at of its subject's events up to its
// end, a vanished span likewise (derive-usage.ts); the database's clock cannot be
// set, so each batch is applied (applyRaw, judged at its arrival instant), its new
// events dated to that instant, the vanished spans that statement recorded
// dropped (learned at the real now(), or at a dated instant where that was later),
// and its subjects derived again from the stored events (deriveStored, in one
// transaction), dropping the spans it records of subjects the consumer derives in
// memory (newSubjectUsage: new, numbered 1..n), which the consumer never records.
// That is what the consumer's statement gives when now() is the arrival instant:
// storeAndDerive equals deriveStored row for row, learned_at included
// (services/metering/test/derive-equivalence.test.ts); a span's learned_at is its
// step's, from the same received_at (every earlier arrival is dated before this
// one); and nothing else metering writes when applying
// is read by invoicing. The usage fold runs after every arrival or never (per
// history: production's steady state, or its lag). Finalize runs with a fake
// clock at each run's instant and its new invoices' finalized_at are dated back to
// it, as test/late-owner-gap.test.ts does. Each history has a database of its
// own, copied from one migrated template.
//
// LATE_CONVERGE_RUNS, LATE_CONVERGE_SEED and LATE_CONVERGE_PATH (fast-check's
// replay path, printed with a failure) re-run a failure or search longer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type Arrival, describeHistory, FINAL_RUN, type History, histories, MONTHS } from './late-usage-world.ts';
import { copyOf, dropDatabase, exercised, invoiceTrail, migratedTemplate, play, violations } from './late-usage-sim.ts';

const RUNS = Number(process.env.LATE_CONVERGE_RUNS ?? 20);
const SEED = Number(process.env.LATE_CONVERGE_SEED ?? 20_261_206);
const PATH = process.env.LATE_CONVERGE_PATH;

/** A history played on a database of its own: what finance relies on that it breaks (none: it holds), with the exercised rows. */
async function check(template: string, h: History) {
  const db = await copyOf(template);
  try {
    await play(db, h);
    const problems = await violations(db, h);
    const report = problems.length > 0 ? `${problems.join('\n')}\n${describeHistory(h)}\ninvoice lines:\n${await invoiceTrail(db)}` : '';
    return { report, did: await exercised(db) };
  } finally {
    await db.drop();
  }
}

const at = (iso: string) => Date.parse(iso);
const arrival = (
  id: string,
  subject: string,
  sequence: number,
  type: string,
  time: string,
  data: Record<string, string>,
  came: string,
) => ({
  event: { id, subject, sequence, type, time: at(time), data },
  at: at(came),
  kind: (id.startsWith('m-') ? '' : 'repeat') as Arrival['kind'],
});

/**
 * Found by this property (2026-12-06): an add-on moved to app-y by its plan change #3, and a
 * repeat of #2 that deprovisions it (a smaller id: the copy that counts), learned November 20,
 * after October was invoiced. Metering ends the add-on at #2: its span on app-y is gone, yet
 * no vanished span or late row of app-y is recorded (a step after a deprovisioning is `ended`,
 * and only the losing copy's app-x is), so acct-b keeps paying October's 12 days
 * (12/31 × 9.00 = 3.48) and is never credited.
 */
const DEPROVISIONED_BEFORE_A_MOVE: History = {
  accounts: ['acct-a', 'acct-b'],
  apps: ['app-x', 'app-y'],
  arrivals: [
    arrival(
      'm-app-x-1',
      'app-x',
      1,
      'app.owner_changed',
      '2026-09-01T00:00:00Z',
      { app_id: 'app-x', account_id: 'acct-a' },
      '2026-09-01T00:00:00Z',
    ),
    arrival(
      'm-app-y-1',
      'app-y',
      1,
      'app.owner_changed',
      '2026-09-01T00:00:00Z',
      { app_id: 'app-y', account_id: 'acct-b' },
      '2026-09-01T00:00:00Z',
    ),
    arrival(
      'm-addon-1-1',
      'addon-1',
      1,
      'addon.provisioned',
      '2026-10-01T00:00:00Z',
      { app_id: 'app-x', service: 'heroku-postgresql', plan: 'essential-0' },
      '2026-10-01T00:05:00Z',
    ),
    arrival(
      'm-addon-1-2',
      'addon-1',
      2,
      'addon.plan_changed',
      '2026-10-10T00:00:00Z',
      { app_id: 'app-x', plan: 'essential-1' },
      '2026-10-10T00:05:00Z',
    ),
    arrival(
      'm-addon-1-3',
      'addon-1',
      3,
      'addon.plan_changed',
      '2026-10-20T00:00:00Z',
      { app_id: 'app-y', plan: 'essential-1' },
      '2026-10-20T00:05:00Z',
    ),
    arrival('a-addon-1-2', 'addon-1', 2, 'addon.deprovisioned', '2026-10-10T00:00:00Z', { app_id: 'app-x' }, '2026-11-20T00:00:00Z'),
  ],
  runs: [...MONTHS.slice(0, 4).map((m) => m.due), FINAL_RUN],
  fold: true,
};

describe('late usage converges: random arrival orders through metering’s consumer and finalize (real PostgreSQL, fast-check)', () => {
  let template: string;
  before(async () => {
    template = await migratedTemplate();
  });
  after(async () => {
    if (template) await dropDatabase(template);
  });

  test('a repeated sequence’s deprovisioning that counts, learned late, before a plan change that had moved the add-on to another app: that app’s account is credited', async () => {
    const { report } = await check(template, DEPROVISIONED_BEFORE_A_MOVE);
    assert.equal(report, '');
  });

  test('once everything has arrived and every due month is finalized again, each month charges over its invoices what its usage prices at now, per line, to the cent', {
    timeout: Math.max(600_000, RUNS * 5_000),
  }, async (t) => {
    const seen = { histories: 0, repeats: 0, withAdjustments: 0, withVanished: 0, withLateInvoices: 0 };
    await fc.assert(
      fc.asyncProperty(histories, async (h) => {
        const { report, did } = await check(template, h);
        seen.histories += 1;
        seen.repeats += h.arrivals.some((a) => a.kind === 'repeat') ? 1 : 0;
        seen.withAdjustments += did.adjustments > 0 ? 1 : 0;
        seen.withVanished += did.vanished > 0 ? 1 : 0;
        seen.withLateInvoices += did.lateInvoices > 0 ? 1 : 0;
        if (report) throw new Error(report);
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
    t.diagnostic(`histories ${JSON.stringify(seen)}`);
    // Not vacuous: a good share of the histories put adjustment lines on later invoices.
    if (!PATH) assert.ok(seen.withAdjustments * 4 >= seen.histories, `too few histories reached late usage: ${JSON.stringify(seen)}`);
  });
});
