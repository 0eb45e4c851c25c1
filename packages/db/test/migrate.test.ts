import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { checksumOf, migrate } from '../src/index.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('migrations (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('migrate');
  });
  after(() => db.drop());

  test('apply in order into the app schema, once, even when started concurrently', async () => {
    const results = await Promise.all([1, 2, 3].map(() => migrate(db.pool, 'app_a', fixture('good'))));
    const applied = results.flatMap((r) => r.applied);
    assert.deepEqual(applied, ['001_widgets.sql', '002_names.sql'], 'each file applied exactly once');
    const { rows } = await db.pool.query('select id, name from app_a.widgets');
    assert.deepEqual(rows, [{ id: 1, name: 'one' }]);
    const again = await migrate(db.pool, 'app_a', fixture('good'));
    assert.deepEqual(again, { schema: 'app_a', applied: [], alreadyApplied: 2 });
  });

  test('files apply in the order of their numbers, not their names as text: 1000_ after 101_', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrate-order-'));
    writeFileSync(join(dir, '101_things.sql'), 'create table things (n int);');
    writeFileSync(join(dir, '1000_first_thing.sql'), 'insert into things values (1);');
    const result = await migrate(db.pool, 'app_order', dir);
    assert.deepEqual(result.applied, ['101_things.sql', '1000_first_thing.sql']);
    assert.deepEqual((await db.pool.query('select n from app_order.things')).rows, [{ n: 1 }]);
  });

  test("another process's migrations holding the lock too long: an error saying so, nothing applied, never a hang; each migration runs with a lock_timeout", async () => {
    const holder = await db.pool.connect();
    try {
      await holder.query('select pg_advisory_lock(hashtext($1))', ['migrate:app_wait']);
      const started = performance.now();
      await assert.rejects(
        migrate(db.pool, 'app_wait', fixture('good'), { lockWaitMs: 500 }),
        /^Error: migrations of app_wait: another process has held their lock for 1 s \(its migrations still running, or stuck\); nothing was applied$/,
      );
      assert.ok(performance.now() - started < 5_000);
    } finally {
      await holder.query('select pg_advisory_unlock(hashtext($1))', ['migrate:app_wait']);
      holder.release();
    }
    const dir = mkdtempSync(join(tmpdir(), 'migrate-timeout-'));
    writeFileSync(join(dir, '001_seen.sql'), "create table seen as select current_setting('lock_timeout') as lock_timeout;");
    await migrate(db.pool, 'app_timeout', dir, { lockTimeout: '2s' });
    assert.deepEqual((await db.pool.query('select lock_timeout from app_timeout.seen')).rows, [{ lock_timeout: '2s' }]);
  });

  test('keep each app in its own schema', async () => {
    await migrate(db.pool, 'app_b', fixture('good'));
    const { rows } = await db.pool.query(`select table_schema from information_schema.tables where table_name = 'widgets' order by 1`);
    assert.deepEqual(
      rows.map((r) => r.table_schema),
      ['app_a', 'app_b'],
    );
  });

  test('refuse a migration edited after it was applied', async () => {
    await assert.rejects(migrate(db.pool, 'app_a', fixture('edited')), /001_widgets.sql was edited/);
  });

  test("a migration applied at a version its folder's checksums.json lists as earlier is accepted; any other version is still refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrate-earlier-'));
    const first = '-- first version\ncreate table widgets (id int);\n';
    writeFileSync(join(dir, '001_widgets.sql'), first);
    await migrate(db.pool, 'app_earlier', dir);
    const now = '-- the comment was reworded\ncreate table widgets (id int);\n';
    writeFileSync(join(dir, '001_widgets.sql'), now);
    writeFileSync(join(dir, '002_more.sql'), 'create table more (id int);\n');
    await assert.rejects(
      migrate(db.pool, 'app_earlier', dir),
      /^Error: migration app_earlier\/001_widgets\.sql was edited after it was applied \(its checksum is in no version of .*checksums\.json\)$/,
    );
    writeFileSync(
      join(dir, 'checksums.json'),
      JSON.stringify({ '001_widgets.sql': { sha256: checksumOf(now), earlier: { abc1234: checksumOf(first) } } }),
    );
    assert.deepEqual(await migrate(db.pool, 'app_earlier', dir), { schema: 'app_earlier', applied: ['002_more.sql'], alreadyApplied: 1 });
    // A database that applied today's version is refused an edit of it all the same.
    await migrate(db.pool, 'app_today', dir);
    writeFileSync(join(dir, '001_widgets.sql'), `${now}-- edited again\n`);
    await assert.rejects(migrate(db.pool, 'app_today', dir), /app_today\/001_widgets\.sql was edited after it was applied/);
  });
});
