// The day a credit line names ("web.1 stopped on Oct 10") comes from the
// account's own usage: another owner of the app, later in the month, running a
// process of the same name, neither moves that day nor shows on the page. An
// end that is the account's ownership ending (a transfer) is no stop: no stop
// day is named, only the day the app moved when another account took it over then.
// Nor is an end where the same app's key runs on at once under another product (a
// plan change, a resize): it changed, on that day; and a credit whose end is not
// known (its usage may have run to the month's end) says no stop.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InvoiceLine } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { foldAllUsageChanges } from '../src/billing/usage-days.ts';
import { whyLine } from '../src/web/pages/lines.ts';
import { stopDates, stopKey } from '../src/web/stops.ts';
import type pg from 'pg';
import { billingDatabase, type SeedUsage, seedOwners, seedUsage } from './seed.ts';
import { ACCOUNT_A, ACCOUNT_B, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let db: TestDatabase;
before(async () => {
  db = await billingDatabase();
});
after(() => db?.drop());

const credit = (app: string, key = 'web.1'): InvoiceLine => ({
  app_id: app,
  kind: 'adjustment',
  key,
  product: 'dyno:basic',
  quantity: '-0.6774194',
  unit_price: '7.00',
  amount: '-4.74',
  description: `Credit for 2026-10: ${key} basic`,
  adjusts: '2026-10',
});

describe('stopDates: the day a credit names', () => {
  test("is the account's own usage's end; the next owner's later run of the same process is not read", async () => {
    await seedOwners(db.pool, [
      { app: 'moved', account: 'acct-a', from: '2026-01-01T00:00:00Z', to: '2026-10-15T00:00:00Z' },
      { app: 'moved', account: 'acct-b', from: '2026-10-15T00:00:00Z' },
    ]);
    await seedUsage(db.pool, [
      { app: 'moved', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-10T00:00:00Z' },
      { app: 'moved', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-20T00:00:00Z', to: '2026-10-25T00:00:00Z' },
    ]);
    const line = credit('moved');
    const a = await stopDates(db.pool, 'acct-a', [line]);
    assert.deepEqual(a.get(stopKey(line)), { kind: 'stopped', at: new Date('2026-10-10T00:00:00Z') });
    const b = await stopDates(db.pool, 'acct-b', [line]);
    assert.deepEqual(
      b.get(stopKey(line)),
      { kind: 'stopped', at: new Date('2026-10-25T00:00:00Z') },
      "the other owner's own credit names its own day",
    );
  });

  test('a process that ran to the month’s end names no stop', async () => {
    await seedOwners(db.pool, [{ app: 'kept', account: 'acct-c', from: '2026-01-01T00:00:00Z' }]);
    await seedUsage(db.pool, [{ app: 'kept', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z' }]);
    const line = credit('kept');
    assert.equal((await stopDates(db.pool, 'acct-c', [line])).size, 0);
  });

  test('a transfer is no stop: usage cut by the ownership ending is "moved" on the day another account took the app over', async () => {
    await seedOwners(db.pool, [
      { app: 'handed', account: 'acct-d', from: '2026-01-01T00:00:00Z', to: '2026-10-15T00:00:00Z' },
      { app: 'handed', account: 'acct-e', from: '2026-10-15T00:00:00Z' },
    ]);
    await seedUsage(db.pool, [
      // Never stopped: it runs on for acct-e.
      { app: 'handed', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z' },
      // Stopped on Oct 16, after the transfer: not acct-d's stop.
      { app: 'handed', kind: 'dyno', key: 'worker.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z', to: '2026-10-16T00:00:00Z' },
    ]);
    const web = credit('handed');
    const worker = credit('handed', 'worker.1');
    const d = await stopDates(db.pool, 'acct-d', [web, worker]);
    const moved = { kind: 'moved', to: new Date('2026-10-15T00:00:00Z') };
    assert.deepEqual(d.get(stopKey(web)), moved, 'web.1 never stopped');
    assert.deepEqual(d.get(stopKey(worker)), moved, 'worker.1 stopped on Oct 16, not on Oct 15, and not for acct-d');
    // The new owner's own stop of worker.1, inside its ownership, is a stop with its day.
    const e = await stopDates(db.pool, 'acct-e', [worker]);
    assert.deepEqual(e.get(stopKey(worker)), { kind: 'stopped', at: new Date('2026-10-16T00:00:00Z') });
  });

  test('an ownership that ends with no other account taking the app over is "moved" without a day', async () => {
    await seedOwners(db.pool, [{ app: 'dropped', account: 'acct-f', from: '2026-01-01T00:00:00Z', to: '2026-10-15T00:00:00Z' }]);
    await seedUsage(db.pool, [{ app: 'dropped', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z' }]);
    const line = credit('dropped');
    assert.deepEqual((await stopDates(db.pool, 'acct-f', [line])).get(stopKey(line)), { kind: 'moved' });
  });

  test('the words of a move name no stop, and a day only when it is known', () => {
    const line = credit('x');
    const known = whyLine(line, { kind: 'moved', to: new Date('2026-10-15T00:00:00Z') })!;
    assert.equal(
      known,
      'The app moved to another account on Oct 15 (we learned of it after the October 2026 invoice was issued), so web.1 comes to less for October 2026 than that invoice billed: this gives the difference back.',
    );
    const unknown = whyLine(line, { kind: 'moved' })!;
    assert.equal(
      unknown,
      'web.1 comes to less for October 2026 than the October 2026 invoice billed (the platform told us after that invoice was issued): this gives the difference back.',
    );
    for (const words of [known, unknown]) assert.doesNotMatch(words, /stopped/);
  });
});

/** The pages' world for the enclosing describe (made before its tests, closed after), and a client of it. */
function pagesWorld() {
  let world: WebWorld;
  before(async () => {
    world = await webWorld();
  });
  after(async () => {
    await world?.close();
  });
  return { pool: () => world.db.pool, ...webClient(() => world) };
}

describe('a late transfer on the pages', () => {
  const { pool: worldPool, get, signIn } = pagesWorld();

  test('learned after October was billed to its end: the credit lines say the app moved on Oct 15, never that web.1 or worker.1 stopped', async () => {
    // On Nov 20 we learn that shop-web moved from A to B on Oct 15 (metering's ownership, as it records a transfer).
    const pool = worldPool();
    const at = '2026-10-15T00:00:00Z';
    const learnedAt = '2026-11-20T12:00:00Z';
    await pool.query(
      `update metering.app_ownership set during = tstzrange(lower(during), $2::timestamptz, '[)'), learned_at = $3 where app_id = $1`,
      ['shop-web', at, learnedAt],
    );
    await seedOwners(pool, [{ app: 'shop-web', account: ACCOUNT_B, from: at, learnedAt }]);
    await foldAllUsageChanges(pool);
    const page = (await get('/usage', await signIn(ACCOUNT_A))).body;
    const why = [...page.matchAll(/<span class="why">([^<]*)<\/span>/g)].map((m) => m[1]!);
    const of = (key: string) => why.filter((w) => w.includes(` ${key} `));
    assert.equal(of('web.1').length, 1, why.join(' | '));
    assert.equal(of('worker.1').length, 1, why.join(' | '));
    for (const w of [...of('web.1'), ...of('worker.1')]) {
      assert.match(w, /^The app moved to another account on Oct 15 /);
      assert.doesNotMatch(w, /stopped/);
    }
  });
});

/** Metering learns late that `app`'s running `key` went on under `product` from `at` (a plan change, a resize): one subject, two intervals. */
async function changeProduct(pool: pg.Pool, app: string, key: string, product: string, at: string, learnedAt: string): Promise<void> {
  const { rows } = await pool.query<{ subject: string; subject_id: string; kind: string }>(
    `update metering.usage_intervals set during = tstzrange(lower(during), $3::timestamptz, '[)'), learned_at = $4
      where app_id = $1 and key = $2 and upper_inf(during) returning subject, subject_id::text, kind`,
    [app, key, at, learnedAt],
  );
  assert.equal(rows.length, 1, `${app} ${key} running`);
  const { subject, subject_id, kind } = rows[0]!;
  await pool.query(
    `insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
     values ($1, $2, $3, $4, $5, $6, tstzrange($7, null, '[)'), $8)`,
    [subject, subject_id, kind, app, key, product, at, learnedAt],
  );
}

describe('a plan change or a resize is no stop', () => {
  const pg0 = 'addon:heroku-postgresql:essential-0';
  const addonCredit = (app: string): InvoiceLine => ({
    ...credit(app, 'addon-pg1'),
    product: pg0,
    unit_price: '5.00',
    description: 'Credit for 2026-10: addon-pg1 essential-0',
  });

  test('stopDates: the same app and key under another product from the very instant the usage ended is "changed" on that day', async () => {
    await seedOwners(db.pool, [
      { app: 'replanned', account: 'acct-g', from: '2026-01-01T00:00:00Z' },
      { app: 'other', account: 'acct-g', from: '2026-01-01T00:00:00Z' },
    ]);
    const at = '2026-10-12T00:00:00Z';
    const addon = (product: string, from: string, to?: string): SeedUsage => ({
      app: 'replanned',
      kind: 'addon',
      key: 'addon-pg1',
      product,
      from,
      ...(to ? { to } : {}),
    });
    const dyno = (app: string, key: string, product: string, from: string, to?: string): SeedUsage => ({
      app,
      kind: 'dyno',
      key,
      product,
      from,
      ...(to ? { to } : {}),
    });
    await seedUsage(db.pool, [
      addon(pg0, '2026-10-01T00:00:00Z', at),
      addon('addon:heroku-postgresql:essential-1', at),
      // Resized on Oct 12.
      dyno('replanned', 'web.1', 'dyno:basic', '2026-10-01T00:00:00Z', at),
      dyno('replanned', 'web.1', 'dyno:standard-1x', at),
      // Stopped on Oct 12; another product starts then, but under another key, later, or in another app.
      dyno('replanned', 'worker.1', 'dyno:basic', '2026-10-01T00:00:00Z', at),
      dyno('replanned', 'worker.2', 'dyno:standard-1x', at),
      dyno('replanned', 'clock.1', 'dyno:basic', '2026-10-01T00:00:00Z', at),
      dyno('replanned', 'clock.1', 'dyno:standard-1x', '2026-10-13T00:00:00Z'),
      dyno('other', 'web.1', 'dyno:basic', '2026-10-01T00:00:00Z', at),
    ]);
    const lines = [addonCredit('replanned'), ...['web.1', 'worker.1', 'clock.1'].map((k) => credit('replanned', k)), credit('other')];
    const ends = await stopDates(db.pool, 'acct-g', lines);
    const changed = { kind: 'changed', at: new Date(at) };
    const stopped = { kind: 'stopped', at: new Date(at) };
    assert.deepEqual(
      lines.map((l) => ends.get(stopKey(l))),
      [changed, changed, stopped, stopped, stopped],
      'addon-pg1 changed plan, web.1 changed size; worker.1, clock.1 and the other app’s web.1 stopped',
    );
  });

  test('the words of a plan change or a resize name the change and its day, never a removal or a stop', () => {
    const at = new Date('2026-10-12T00:00:00Z');
    const plan = whyLine(addonCredit('x'), { kind: 'changed', at })!;
    assert.equal(
      plan,
      'addon-pg1 changed plan on Oct 12 (we learned of it after the October 2026 invoice was issued), so its former plan comes to less for October 2026 than that invoice billed: this gives the difference back.',
    );
    const size = whyLine(credit('x'), { kind: 'changed', at })!;
    assert.equal(
      size,
      'web.1 changed size on Oct 12 (we learned of it after the October 2026 invoice was issued), so its former size comes to less for October 2026 than that invoice billed: this gives the difference back.',
    );
    for (const words of [plan, size]) assert.doesNotMatch(words, /removed|stopped/);
  });

  test('a credit without a known end (its usage may have run to the month’s end) says no stop', () => {
    const words = whyLine(credit('x'))!;
    assert.equal(
      words,
      'web.1 ran less in October 2026 than the October 2026 invoice billed (the platform told us after that invoice was issued): this gives the difference back.',
    );
  });

  describe('on the pages', () => {
    const { pool: worldPool, get, signIn } = pagesWorld();

    test('learned after October was billed: addon-pg1’s credit says it changed plan on Oct 20, web.1’s that it changed size, neither that it was removed or stopped', async () => {
      const pool = worldPool();
      const at = '2026-10-20T00:00:00Z';
      const learnedAt = '2026-11-20T12:00:00Z';
      await changeProduct(pool, 'shop-db', 'addon-pg1', 'addon:heroku-postgresql:essential-1', at, learnedAt);
      await changeProduct(pool, 'shop-web', 'web.1', 'dyno:standard-2x', at, learnedAt);
      await foldAllUsageChanges(pool);
      const page = (await get('/usage', await signIn(ACCOUNT_A))).body;
      const why = [...page.matchAll(/<span class="why">([^<]*)<\/span>/g)].map((m) => m[1]!);
      const of = (key: string) => why.filter((w) => w.startsWith(`${key} `) && w.includes('gives the difference back'));
      assert.deepEqual(
        of('addon-pg1'),
        [
          'addon-pg1 changed plan on Oct 20 (we learned of it after the October 2026 invoice was issued), so its former plan comes to less for October 2026 than that invoice billed: this gives the difference back.',
        ],
        why.join(' | '),
      );
      assert.deepEqual(
        of('web.1'),
        [
          'web.1 changed size on Oct 20 (we learned of it after the October 2026 invoice was issued), so its former size comes to less for October 2026 than that invoice billed: this gives the difference back.',
        ],
        why.join(' | '),
      );
      for (const w of why) assert.doesNotMatch(w, /removed|stopped/, w);
    });
  });
});
