// Upgrades from every commit whose migrations held a version that is no longer
// today's (an edited migration, or invoicing's 018_usage_by_month, since removed):
// the database that commit left boots with today's migrations (an earlier version
// is accepted, checksums.json) and ends with exactly the schema a fresh database
// gets (the follow-ups `NNN_…_from_earlier.sql` mend what an earlier version left).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { schemaShape } from './schema-shape.ts';
import { EARLIER_STATES, EDITED_SCHEMAS, migrateAsOf, migrateNow } from './earlier-migrations.ts';

describe('upgrading a database an earlier commit migrated (real PostgreSQL)', { concurrency: 3 }, () => {
  const fresh: Record<string, string[]> = {};
  before(async () => {
    const db = await freshDatabase('history_fresh');
    try {
      await migrateNow(db.pool);
      for (const schema of EDITED_SCHEMAS) fresh[schema] = await schemaShape(db.pool, schema);
    } finally {
      await db.drop();
    }
  });

  for (const state of EARLIER_STATES) {
    const earlier = EDITED_SCHEMAS.flatMap((s) => (state[s] ?? []).filter((f) => f.includes('@')));
    test(`as of ${state.commit} (${earlier.join(', ')}): today's migrations apply, and the schema is a fresh database's`, async () => {
      let db: TestDatabase | undefined;
      try {
        db = await freshDatabase('history');
        await migrateAsOf(db.pool, state);
        await migrateNow(db.pool);
        for (const schema of EDITED_SCHEMAS) {
          const shape = await schemaShape(db.pool, schema);
          const want = fresh[schema]!;
          assert.deepEqual(
            { missing: want.filter((l) => !shape.includes(l)), extra: shape.filter((l) => !want.includes(l)) },
            { missing: [], extra: [] },
            schema,
          );
        }
      } finally {
        await db?.drop();
      }
    });
  }
});
