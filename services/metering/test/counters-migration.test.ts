// Issue 20: migration 015 stops every batch from updating the three global
// counter rows; the totals are the partitions' counts summed when read, plus
// what was counted before those existed. A database migrated with counts in
// it reads the same totals after as before. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { migrate } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { readCounters } from '../src/reports/store.ts';
import { MIGRATIONS, meteringDatabaseBefore } from './harness.ts';

let db: TestDatabase | undefined;
after(async () => {
  await db?.drop();
});

test('migration 015: the totals read after it are the counters kept before it (counts from before 007 included)', async () => {
  db = await meteringDatabaseBefore('metering_015', '015');
  // As 014 left a database: 7 applied, 4 duplicates and 1 rejection counted before message_counts
  // existed, then two partitions' rows, all also added to the global counters.
  await db.pool.query(
    `insert into metering.message_counts (log, topic, partition, source, read, applied, duplicate, rejected)
     values ('log-a', 'billing', 0, 'platform', 14, 10, 3, 1), ('log-a', 'billing', 1, '', 2, 0, 0, 2),
            ('log-a', 'billing', 1, 'platform', 5, 5, 0, 0)`,
  );
  await db.pool.query(
    `update metering.counters set value = case name when 'events_applied' then 7 + 15
                                                    when 'events_duplicate' then 4 + 3 else 1 + 3 end`,
  );
  const before = { events_applied: 22, events_duplicate: 7, events_rejected: 4 };
  await migrate(db.pool, 'metering', MIGRATIONS);
  assert.deepEqual(await readCounters(db.pool), before);
  // From here a batch adds to its partition's rows only, and the totals follow.
  await db.pool.query(`update metering.message_counts set applied = applied + 2, read = read + 2 where partition = 0`);
  assert.deepEqual(await readCounters(db.pool), { ...before, events_applied: 24 });
});
