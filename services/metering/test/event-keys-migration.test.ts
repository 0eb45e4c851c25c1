// Issue 19: migration 013 moves deduplication into event_keys — every stored
// event's key and every archived one's — so a database migrated with events
// and archived keys in it still answers a re-send as a duplicate and an id
// reused with other content as id_reused. Real PostgreSQL, the real batch path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { judge, type ValidInput } from '../src/domain/judge.ts';
import { applyRaw, exampleLines, MIGRATIONS, meteringDatabaseBefore } from './harness.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

describe('migration 013: deduplication from event_keys (real PostgreSQL)', () => {
  let db: TestDatabase;
  let valid: ValidInput[];
  /** The raw lines of `valid`, in its order. */
  let raws: string[];

  before(async () => {
    db = await meteringDatabaseBefore('metering_013', '013');
    const lines = exampleLines('october.ndjson');
    // One of each key (the example re-sends some), as a database stores them.
    const seen = new Set<string>();
    valid = judge(
      lines.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: NOW })),
      NOW,
    ).valid.filter((v) => !seen.has(`${v.event.source}\u0000${v.event.id}`) && seen.add(`${v.event.source}\u0000${v.event.id}`));
    raws = valid.map((v) => v.received.bytes.toString('utf8'));
    // As 012 left them: the first two events archived (their keys alone), the rest stored.
    const [archived, stored] = [valid.slice(0, 2), valid.slice(2)];
    await db.pool.query(
      `insert into metering.archived_events (source, id, content_hash)
       select s, i, decode(h, 'hex') from unnest($1::text[], $2::text[], $3::text[]) k(s, i, h)`,
      [archived.map((v) => v.event.source), archived.map((v) => v.event.id), archived.map((v) => v.contentHash)],
    );
    await db.pool.query(
      `insert into metering.events (source, id, type, subject, sequence, time, data, content_hash)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::jsonb[], $8::text[])`,
      [
        stored.map((v) => v.event.source),
        stored.map((v) => v.event.id),
        stored.map((v) => v.event.type),
        stored.map((v) => v.event.subject),
        stored.map((v) => v.event.sequence),
        stored.map((v) => v.event.time),
        stored.map((v) => JSON.stringify(v.event.data)),
        stored.map((v) => v.contentHash),
      ],
    );
    await migrate(db.pool, 'metering', MIGRATIONS);
  });
  after(async () => {
    await db?.drop();
  });

  test('every key, archived or stored, is in event_keys with its hash; the payloads stay in events', async () => {
    const { rows } = await db.pool.query<{ source: string; id: string; hash: string }>(
      `select source, id, encode(content_hash, 'hex') as hash from metering.event_keys order by source, id`,
    );
    const expected = valid
      .map((v) => ({ source: v.event.source, id: v.event.id, hash: v.contentHash }))
      .sort((a, b) => (a.source + '\u0000' + a.id < b.source + '\u0000' + b.id ? -1 : 1));
    assert.ok(expected.length > 2);
    assert.deepEqual(rows, expected);
    const events = await db.pool.query<{ n: number }>('select count(*)::int as n from metering.events');
    assert.equal(events.rows[0]!.n, valid.length - 2);
    const archivedTable = await db.pool.query(`select to_regclass('metering.archived_events') as t`);
    assert.equal(archivedTable.rows[0].t, null);
  });

  test('a re-send of each is a duplicate; an archived and a stored id with other content are id_reused', async () => {
    const resent = await applyRaw(db, raws, NOW);
    assert.equal(resent.applied, 0);
    assert.equal(resent.duplicates, valid.length);
    const changed = [valid[0]!, valid[2]!].map((v) =>
      JSON.stringify({ ...JSON.parse(v.received.bytes.toString('utf8')), time: '2026-10-30T00:00:00Z' }),
    );
    const reused = await applyRaw(db, changed, NOW);
    assert.equal(reused.applied, 0);
    assert.deepEqual(
      reused.rejected.map((r) => [r.eventId, r.reasons.map((x) => x.code)]),
      [
        [valid[0]!.event.id, ['id_reused']],
        [valid[2]!.event.id, ['id_reused']],
      ],
    );
  });
});
