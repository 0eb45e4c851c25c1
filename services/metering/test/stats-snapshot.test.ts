// GET /v1/stats reads the counts, the positions and the log changes in one
// snapshot: a batch commits all three together, so an answer read across a
// commit must show all of that batch or none of it.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { MeteringStats } from '@vault/contracts';
import { eventually } from '@vault/testkit';
import { AUTH, startMetering, type Metering } from './harness.ts';

describe('GET /v1/stats: one moment (real PostgreSQL, embedded bus)', () => {
  const open: Metering[] = [];
  after(async () => {
    for (const m of open) await m.close();
  });

  test('a batch committing while the answer is read: its counts and the log change it found are both shown, or neither', async () => {
    const m = await startMetering('embedded');
    open.push(m);
    const read = async () => MeteringStats.parse((await m.http.inject({ method: 'GET', url: '/v1/stats', headers: AUTH })).json());
    const batch = new pg.Client({ connectionString: m.db.url });
    await batch.connect();
    try {
      // A batch's transaction, as applyMessages writes it, holding the counts' table until it commits:
      // the answer's read of the counts waits for it, its other reads do not.
      await batch.query('begin');
      await batch.query('lock table metering.message_counts in access exclusive mode');
      await batch.query(
        `insert into metering.log_changes (topic, partition, from_log, to_log, reason, action)
         values ($1, 0, 'old-log', 'new-log', 'the batch comes from another log', 'read again')`,
        [m.topic],
      );
      await batch.query(
        `insert into metering.message_counts (log, topic, partition, source, read, applied) values ('new-log', $1, 0, 'api', 3, 3)`,
        [m.topic],
      );
      const answer = read();
      await eventually('the answer waiting for the batch', async () => {
        const { rows } = await m.db.pool.query(
          `select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%message_counts%' and pid <> $1`,
          [(batch as unknown as { processID: number }).processID],
        );
        return rows.length > 0;
      });
      await batch.query('commit');
      const during = await answer;
      const seen = { applied: during.events_applied, changes: during.log_changes.filter((c) => c.partition === 0).length };
      assert.ok(
        (seen.applied === 0 && seen.changes === 0) || (seen.applied === 3 && seen.changes === 1),
        `all of the batch or none of it: ${JSON.stringify(seen)}`,
      );
      const later = await read();
      assert.deepEqual(
        { applied: later.events_applied, changes: later.log_changes.filter((c) => c.partition === 0).length },
        { applied: 3, changes: 1 },
      );
    } finally {
      await batch.end();
    }
  });
});
