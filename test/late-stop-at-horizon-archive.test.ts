// A stop that arrives after the usage horizon passed its time (docs/contracts/invoicing.md,
// "Late usage"; metering.md, "Usage horizon"): refused, then re-submitted timed at the horizon
// (2026-03-01), it ends a dyno every month March..October was invoiced running (7.00 each).
// `vault archive` runs before the next finalize: it settles the now-closed interval into the
// month it ends in, February, before the horizon. The credit must survive that: finalize's and
// the draft's late-usage candidates read every settled month for an app a month charged (they
// read only months from the charged month on, so the row was not late for any of them), and the
// archive keeps February's settled table while a row of it was learned that late (it dropped
// it with the horizon). A: the account's only dyno stopped (no invoice after October): the
// gate moved the horizon to December, the credit lost for good. B: the account has another
// dyno (an invoice every month): the gate stopped at March, but February's table was dropped
// and December's invoice carried nothing. Then a later archive moves on. Real PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { archiveEvents, type ArchiveResult, type HorizonGate } from '@vault/metering/archive';
import { applyRaw } from '../services/metering/test/harness.ts';
import { firstOpenMonth } from '../services/invoicing/src/billing/final-months.ts';
import { lateCandidates } from '../services/invoicing/src/billing/late-usage.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { LATE_MARGIN_INTERVAL } from '../services/invoicing/src/billing/sql.ts';
import { foldAllUsageChanges } from '../services/invoicing/src/billing/usage-days.ts';
import { chargedFor, finalizeAt } from '../services/invoicing/test/late-runs.ts';
import { billingDatabase } from '../services/invoicing/test/seed.ts';

const prices = loadPriceBook();
const gate: HorizonGate = (client, before, from) => firstOpenMonth(client, { before, from, prices });
const ev = (id: string, type: string, subject: string, sequence: number, time: string, data: Record<string, string>) =>
  JSON.stringify({ specversion: '1.0', id, source: 'platform', type, time, subject, sequence, data });
const MONTHS = ['2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10'];
/** When the stop arrives, and the archive's cut just after: fixed, whatever the day the test runs. */
const STOP_ARRIVES = '2026-12-06T10:00:00Z';
const CUT = new Date('2026-12-06T11:00:00Z');
const nextMonth = (p: string) => {
  const [y, m] = p.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
};

/**
 * The account's dynos from January 10 (learned as they started), January and February
 * finalized, the horizon moved to March, then every month up to `last` finalized with them
 * running; then the stop of dyno-1, refused (timed February 15) and re-submitted at the horizon.
 */
async function runningUntilLateStop(db: TestDatabase, dir: string, dynos: string[], last: string): Promise<void> {
  const started = await applyRaw(
    db,
    [
      ev('o1', 'app.owner_changed', 'app-1', 1, '2026-01-01T00:00:00Z', { app_id: 'app-1', account_id: 'acct-1' }),
      ...dynos.map((d, i) =>
        ev(`start-${d}`, 'dyno.started', d, 1, '2026-01-10T00:00:00Z', { app_id: 'app-1', name: `web.${i + 1}`, size: 'basic' }),
      ),
    ],
    Date.parse('2026-01-10T00:00:01Z'),
  );
  assert.equal(started.applied, 1 + dynos.length);
  await db.pool.query(`update metering.events set received_at = time + interval '1 second'`);
  await db.pool.query(`update metering.app_ownership set learned_at = lower(during) + interval '1 second'`);
  await db.pool.query(`update metering.usage_intervals set learned_at = lower(during) + interval '1 second'`);
  await foldAllUsageChanges(db.pool);
  await finalizeAt(db.pool, prices, '2026-01', '2026-02-05T00:00:00Z');
  await finalizeAt(db.pool, prices, '2026-02', '2026-03-05T00:00:00Z');
  const cut = await archiveEvents(db.pool, { before: new Date('2026-01-01T00:00:00Z'), dir, usage: { before: '2026-03', gate } });
  assert.equal(cut.horizon?.to, '2026-03');
  for (let p = '2026-03'; p <= last; p = nextMonth(p)) await finalizeAt(db.pool, prices, p, `${nextMonth(p)}-05T00:00:00Z`);
  assert.equal(await chargedFor(db.pool, 'acct-1', '2026-05'), (7 * dynos.length).toFixed(2));
  const at = Date.parse(STOP_ARRIVES);
  const refused = await applyRaw(db, [ev('stop', 'dyno.stopped', 'dyno-1', 2, '2026-02-15T00:00:00Z', { app_id: 'app-1' })], at);
  assert.equal(refused.rejected.length, 1, 'timed before the horizon: refused');
  const fixed = await applyRaw(db, [ev('stop-fixed', 'dyno.stopped', 'dyno-1', 2, '2026-03-01T00:00:00Z', { app_id: 'app-1' })], at);
  assert.equal(fixed.applied, 1);
  // Metering stamps what it learns with its clock: dated back to the fixed instant.
  await db.pool.query(`update metering.events set received_at = $1 where subject = 'dyno-1' and sequence = 2`, [STOP_ARRIVES]);
  await db.pool.query(`update metering.usage_intervals set learned_at = $1 where subject = 'dyno-1'`, [STOP_ARRIVES]);
}

/** `vault archive --before <cut>` as the command runs it (invoicing's queue folded first). */
async function archive(db: TestDatabase, dir: string, target: string, before = CUT): Promise<ArchiveResult> {
  await foldAllUsageChanges(db.pool);
  return archiveEvents(db.pool, { before, dir, usage: { before: target, gate } });
}
const settledTables = async (db: TestDatabase) =>
  (await db.pool.query<{ t: string }>(`select tableoid::regclass::text as t from metering.settled_usage group by 1 order by 1`)).rows.map(
    (r) => r.t,
  );

/** Once the credit is carried: a later archive moves the horizon to December and archives February's interval. */
async function archiveMovesOn(db: TestDatabase, dir: string): Promise<void> {
  const later = await archive(db, dir, '2026-12');
  assert.equal(later.horizon?.to, '2026-12');
  assert.deepEqual(
    later.usageMonths.map((m) => [m.month, m.intervals]),
    [['2026-02', 1]],
  );
}

describe('a late stop re-submitted at the usage horizon, archived before the next finalize (real PostgreSQL)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vault-late-stop-horizon-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('A, its only dyno: the horizon stays at March until November’s invoice carried 7.00 of credit for each month March..October; then a later archive moves it and drops February', async () => {
    const db = await billingDatabase();
    try {
      await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
      await runningUntilLateStop(db, join(dir, 'a'), ['dyno-1'], '2026-10');
      const r = await archive(db, join(dir, 'a'), '2026-12');
      assert.equal(r.settled, 1, 'the stopped dyno’s interval settled');
      assert.equal(r.horizon?.to, '2026-03', 'March..October’s credit is not carried yet: the horizon stays');
      assert.match(r.horizon?.stoppedAt?.reason ?? '', /late usage of app app-1 for account acct-1/);
      assert.deepEqual(await settledTables(db), ['metering.settled_usage_2026_02']);
      assert.deepEqual(r.usageMonths, [], 'February is kept');
      // The draft reads the same candidates, scoped.
      const scoped = await lateCandidates(db.pool, new Date('2026-12-01T00:00:00Z'), ['acct-1'], LATE_MARGIN_INTERVAL);
      assert.deepEqual([...new Set(scoped.map((c) => c.period))].sort(), MONTHS);

      await finalizeAt(db.pool, prices, '2026-11', '2026-12-06T12:00:00Z');
      for (const m of MONTHS) assert.equal(await chargedFor(db.pool, 'acct-1', m), '0.00', `${m}: credited`);

      await archiveMovesOn(db, join(dir, 'a'));
    } finally {
      await db.drop();
    }
  });

  test('B, another dyno running: February stays through the archive and December’s invoice credits 7.00 for each month March..October; then a later archive moves the horizon and drops February', async () => {
    const db = await billingDatabase();
    try {
      await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
      await runningUntilLateStop(db, join(dir, 'b'), ['dyno-1', 'dyno-2'], '2026-11');
      const r = await archive(db, join(dir, 'b'), '2026-12');
      assert.equal(r.horizon?.to, '2026-03');
      assert.deepEqual(r.usageMonths, [], 'February is kept');
      assert.deepEqual(await settledTables(db), ['metering.settled_usage_2026_02']);

      await finalizeAt(db.pool, prices, '2026-12', '2027-01-05T00:00:00Z');
      for (const m of MONTHS) assert.equal(await chargedFor(db.pool, 'acct-1', m), '7.00', `${m}: dyno-1 credited, dyno-2 charged`);
      // November was finalized before the stop arrived: credited too.
      assert.equal(await chargedFor(db.pool, 'acct-1', '2026-11'), '7.00');

      await archiveMovesOn(db, join(dir, 'b'));
    } finally {
      await db.drop();
    }
  });
});
