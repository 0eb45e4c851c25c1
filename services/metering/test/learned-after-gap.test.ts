import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { TestDatabase } from '@vault/testkit';
import { applyRaw, meteringDatabase } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const databases: TestDatabase[] = [];

const owner = (sequence: number, account: string, time: string) =>
  JSON.stringify({
    specversion: '1.0',
    id: `own-${sequence}`,
    source: 'app-manager',
    type: 'app.owner_changed',
    time,
    subject: 'app-x',
    sequence,
    data: { app_id: 'app-x', account_id: account },
  });

describe('usage learned after a sequence gap (real PostgreSQL)', () => {
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('a row after a filled gap is learned when the gap was filled, not when its own events came (invoicing reads learned_at to find late usage: test/late-owner-gap.test.ts)', async () => {
    const db = await meteringDatabase();
    databases.push(db);
    // Owners 1 (A) and 3 (C) come; 2 (B) is missing: only A's first span is reliable, up to the hole.
    await applyRaw(db, [owner(1, 'acct-a', '2026-10-01T00:00:00Z'), owner(3, 'acct-c', '2026-10-20T00:00:00Z')], NOW);
    const { rows: before } = await db.pool.query<{ now: Date }>('select clock_timestamp() as now');
    await applyRaw(db, [owner(2, 'acct-b', '2026-10-10T00:00:00Z')], NOW);
    const { rows } = await db.pool.query<{ account_id: string; late: boolean }>(
      `select account_id, learned_at > $1 as late from metering.app_ownership where app_id = 'app-x' order by lower(during)`,
      [before[0]!.now],
    );
    assert.deepEqual(
      rows.map((r) => [r.account_id, r.late]),
      [
        ['acct-a', true],
        ['acct-b', true],
        // Its own events (3, and none after) came before the gap was filled: learned with the filling all the same.
        ['acct-c', true],
      ],
    );
  });
});
