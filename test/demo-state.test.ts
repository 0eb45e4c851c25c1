// The demo's state: kept in the database it describes (vault_demo.state), so a
// database deleted or switched never inherits another's "loaded" or "loading".
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { readState, writeState } from '../scripts/cli/demo.ts';

describe("the demo's state (real PostgreSQL)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-state-'));
  let a: TestDatabase;
  let b: TestDatabase;
  before(async () => {
    [a, b] = await Promise.all([freshDatabase('demo_state_a'), freshDatabase('demo_state_b')]);
  });
  after(async () => {
    await Promise.all([a?.drop(), b?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('written in one database, it reads back there and nowhere else: another database starts with no state', async () => {
    await writeState(a, { state: 'loading', now: '2026-11-23T12:00:00.000Z' });
    await writeState(a, { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' });
    assert.deepEqual(await readState(a), { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' });
    assert.equal(await readState(b), undefined);
  });

  test('read by several at once on a database without it (two starts), the state table is made once and nobody fails', async () => {
    const fresh = await freshDatabase('demo_state_race');
    try {
      const reads = await Promise.allSettled(Array.from({ length: 8 }, () => readState(fresh)));
      assert.deepEqual(
        reads.map((r) => r.status),
        Array(8).fill('fulfilled'),
        JSON.stringify(reads.filter((r) => r.status === 'rejected')),
      );
    } finally {
      await fresh.drop();
    }
  });

  test("an earlier release's demo.json says loaded: taken over only by a database that holds the demo's account (not an empty one, not one of your own), a broken file is as none", async () => {
    const file = join(dir, 'demo.json');
    writeFileSync(file, JSON.stringify({ state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' }));
    const empty = await freshDatabase('demo_state_empty');
    try {
      assert.equal(await readState(empty, file), undefined, 'an empty database is not the one it described');
    } finally {
      await empty.drop();
    }
    // b holds data, but not the demo's account: a database of your own, not the one the file described.
    await b.pool.query('create schema metering');
    await b.pool.query('create table metering.app_ownership (app_id text, account_id text)');
    await b.pool.query(`insert into metering.app_ownership values ('app-1', 'acct-yours')`);
    assert.equal(await readState(b, file), undefined, 'a database without the demo account is not the one it described');
    await b.pool.query(`insert into metering.app_ownership values ('app-2', 'acct-demo')`);
    assert.deepEqual(await readState(b, file), { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' });
    assert.deepEqual(
      await readState(b),
      { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' },
      'taken over into the database',
    );
    writeFileSync(file, '{"state":"load');
    const other = await freshDatabase('demo_state_other');
    try {
      assert.equal(await readState(other, file), undefined);
    } finally {
      await other.drop();
    }
  });
});
