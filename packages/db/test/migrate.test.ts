import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { migrate } from '../src/index.ts';

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
});
