// The day a credit line names ("web.1 stopped on Oct 10") comes from the
// account's own usage: another owner of the app, later in the month, running a
// process of the same name, neither moves that day nor shows on the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InvoiceLine } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { stopDates, stopKey } from '../src/web/stops.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

let db: TestDatabase;
before(async () => {
  db = await billingDatabase();
});
after(() => db?.drop());

const credit = (app: string): InvoiceLine => ({
  app_id: app,
  kind: 'adjustment',
  key: 'web.1',
  product: 'dyno:basic',
  quantity: '-0.6774194',
  unit_price: '7.00',
  amount: '-4.74',
  description: 'Credit for 2026-10: web.1 basic',
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
    assert.equal(a.get(stopKey(line))?.toISOString(), '2026-10-10T00:00:00.000Z');
    const b = await stopDates(db.pool, 'acct-b', [line]);
    assert.equal(b.get(stopKey(line))?.toISOString(), '2026-10-25T00:00:00.000Z', "the other owner's own credit names its own day");
  });

  test('a process that ran to the month’s end names no stop', async () => {
    await seedOwners(db.pool, [{ app: 'kept', account: 'acct-c', from: '2026-01-01T00:00:00Z' }]);
    await seedUsage(db.pool, [{ app: 'kept', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-01T00:00:00Z' }]);
    const line = credit('kept');
    assert.equal((await stopDates(db.pool, 'acct-c', [line])).size, 0);
  });
});
