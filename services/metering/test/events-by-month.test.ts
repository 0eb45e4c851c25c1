// Issue 19: raw events split by the month they arrived in (migration 014).
// A batch reads a subject's earlier events only from its first sealed month
// on, and that gives exactly what reading every stored event gives; a sealed
// month refuses inserts; `vault archive` drops a month that ended before the
// cut as a table, moving what stays to the current month, with the usage of a
// database that never archived. Real PostgreSQL, the consumer's batch path,
// the real archive.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrate } from '@vault/db';
import type { TestDatabase } from '@vault/testkit';
import { archiveEvents } from '../src/archive/archive-events.ts';
import { isStoreRefusal } from '../src/consumer/apply-messages.ts';
import { applyBatch } from '../src/consumer/apply-batch.ts';
import { deriveStored } from '../src/consumer/derive-usage.ts';
import { judge } from '../src/domain/judge.ts';
import { applyRaw, MIGRATIONS, meteringDatabaseBefore, usageOf } from './harness.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

const event = (id: string, type: string, subject: string, sequence: number, time: string, data: Record<string, string>) =>
  JSON.stringify({ specversion: '1.0', id, source: 'platform', type, time, subject, sequence, data });

/** Stored before migration 014, each received when it happened (August to October 2026). */
const OLD = [
  event('o1', 'app.owner_changed', 'app-1', 1, '2026-08-01T00:00:00Z', { app_id: 'app-1', account_id: 'acct-1' }),
  event('o2', 'dyno.started', 'dyno-a', 1, '2026-08-10T00:00:00Z', { app_id: 'app-1', name: 'web.1', size: 'standard-1x' }),
  event('o3', 'addon.provisioned', 'addon-x', 1, '2026-08-20T00:00:00Z', {
    app_id: 'app-1',
    service: 'heroku-postgresql',
    plan: 'essential-0',
  }),
  event('o4', 'addon.provisioned', 'addon-g', 1, '2026-09-01T00:00:00Z', { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' }),
  event('o5', 'dyno.stopped', 'dyno-a', 2, '2026-09-05T00:00:00Z', { app_id: 'app-1' }),
  // addon-g's sequence 2 comes late, below.
  event('o6', 'addon.plan_changed', 'addon-g', 3, '2026-09-20T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
  event('o7', 'app.owner_changed', 'app-1', 2, '2026-10-03T00:00:00Z', { app_id: 'app-1', account_id: 'acct-2' }),
  event('o8', 'addon.plan_changed', 'addon-x', 2, '2026-10-10T00:00:00Z', { app_id: 'app-1', plan: 'standard-0' }),
  event('o9', 'dyno.started', 'dyno-b', 1, '2026-10-20T00:00:00Z', { app_id: 'app-1', name: 'worker.1', size: 'standard-2x' }),
];

/** Applied after the migration, through the consumer's batch path: every old subject touched, and a new one. */
const NEW = [
  event('n1', 'dyno.stopped', 'dyno-b', 2, '2026-11-15T00:00:00Z', { app_id: 'app-1' }),
  event('n2', 'app.owner_changed', 'app-1', 3, '2026-11-20T00:00:00Z', { app_id: 'app-1', account_id: 'acct-3' }),
  event('n3', 'addon.plan_changed', 'addon-x', 3, '2026-11-25T00:00:00Z', { app_id: 'app-1', plan: 'premium-0' }),
  event('n4', 'addon.plan_changed', 'addon-g', 2, '2026-09-10T00:00:00Z', { app_id: 'app-1', plan: 'standard-0' }),
  event('n5', 'dyno.started', 'dyno-c', 1, '2026-12-01T00:00:00Z', { app_id: 'app-1', name: 'web.2', size: 'standard-1x' }),
];
const SUBJECTS = ['app-1', 'dyno-a', 'dyno-b', 'dyno-c', 'addon-x', 'addon-g'];

/** A database whose OLD events were stored by migration 013's schema, then migrated to the end. */
async function storedBeforeMonths(name: string): Promise<TestDatabase> {
  const db = await meteringDatabaseBefore(name, '014');
  const valid = judge(
    OLD.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: NOW })),
    NOW,
  ).valid;
  assert.equal(valid.length, OLD.length);
  const col = <T>(f: (v: (typeof valid)[number]) => T) => valid.map(f);
  await db.pool.query(
    `insert into metering.events (source, id, type, subject, sequence, time, data, received_at)
     select s, i, t, sub, q, tm, d, tm
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::jsonb[]) x(s, i, t, sub, q, tm, d)`,
    [
      col((v) => v.event.source),
      col((v) => v.event.id),
      col((v) => v.event.type),
      col((v) => v.event.subject),
      col((v) => v.event.sequence),
      col((v) => v.event.time),
      col((v) => JSON.stringify(v.event.data)),
    ],
  );
  await db.pool.query(
    `insert into metering.event_keys (source, id, content_hash)
     select s, i, decode(h, 'hex') from unnest($1::text[], $2::text[], $3::text[]) k(s, i, h)`,
    [col((v) => v.event.source), col((v) => v.event.id), col((v) => v.contentHash)],
  );
  await migrate(db.pool, 'metering', MIGRATIONS);
  await rederive(db);
  return db;
}

/** Usage derived again from every stored event, all months read (no bound). */
async function rederive(db: TestDatabase): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    await deriveStored(client, SUBJECTS);
    await client.query('commit');
  } finally {
    client.release();
  }
}

const partitions = async (db: TestDatabase) =>
  (
    await db.pool.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'metering.events'::regclass order by 1`,
    )
  ).rows.map((r) => r.name);

describe('events by month (real PostgreSQL)', () => {
  let db: TestDatabase;
  /** The same events, never archived. */
  let reference: TestDatabase;
  let dir: string;

  before(async () => {
    db = await storedBeforeMonths('metering_months');
    reference = await storedBeforeMonths('metering_months_ref');
    dir = await mkdtemp(join(tmpdir(), 'vault-archive-months-'));
  });
  after(async () => {
    await db?.drop();
    await reference?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('each month is a partition; the ended ones are sealed, their subjects recorded, an insert into them refused', async () => {
    const parts = await partitions(db);
    for (const month of ['events_2026_08', 'events_2026_09', 'events_2026_10']) assert.ok(parts.includes(month), parts.join());
    const { rows: counts } = await db.pool.query<{ month: string; n: number }>(
      `select to_char(stored_month, 'YYYY-MM') as month, count(*)::int as n from metering.events group by 1 order by 1`,
    );
    assert.deepEqual(counts, [
      { month: '2026-08', n: 3 },
      { month: '2026-09', n: 3 },
      { month: '2026-10', n: 3 },
    ]);
    const { rows: firsts } = await db.pool.query(
      `select subject, to_char(first_month, 'YYYY-MM') as first from metering.subject_months order by subject`,
    );
    assert.deepEqual(firsts, [
      { subject: 'addon-g', first: '2026-09' },
      { subject: 'addon-x', first: '2026-08' },
      { subject: 'app-1', first: '2026-08' },
      { subject: 'dyno-a', first: '2026-08' },
      { subject: 'dyno-b', first: '2026-10' },
    ]);
    await assert.rejects(
      db.pool.query(
        `insert into metering.events (source, id, type, subject, sequence, time, data, stored_month)
         values ('platform', 'late', 'dyno.stopped', 'dyno-b', 2, '2026-10-21T00:00:00Z', '{"app_id":"app-1"}', '2026-10-01')`,
      ),
      /events of 2026-10 are sealed/,
    );
  });

  test('a batch touching old subjects derives, from their first sealed month on, what every stored event gives', async () => {
    await applyRaw(db, NEW, NOW);
    await applyRaw(reference, NEW, NOW);
    const batch = await usageOf(db);
    // dyno-b's start is in sealed October: its interval closes at the stop applied now.
    assert.ok(
      batch.intervals.some((u) => u.subject === 'dyno-b' && u.from.startsWith('2026-10-20') && u.to?.startsWith('2026-11-15')),
      JSON.stringify(batch.intervals),
    );
    // addon-g's hole, filled now, is gone with its gap.
    assert.deepEqual(batch.gaps, []);
    await rederive(db);
    assert.deepEqual(await usageOf(db), batch);
  });

  test('a batch reads no month before its subjects’ bounds (index scans of its own transaction, per month)', async () => {
    // addon-g's first sealed month is September; dyno-new has no bound row (read from the first unsealed month).
    const batch = [
      event('p1', 'addon.plan_changed', 'addon-g', 4, '2026-12-01T01:00:00Z', { app_id: 'app-1', plan: 'mini' }),
      event('p2', 'dyno.started', 'dyno-new', 1, '2026-12-01T01:00:00Z', { app_id: 'app-1', name: 'web.3', size: 'basic' }),
    ];
    // A session of its own: the counts it reports pending are this transaction's alone.
    const own = new pg.Pool({ connectionString: db.url, max: 1 });
    const client = await own.connect();
    let scans: Record<string, number>;
    try {
      await client.query('begin');
      await applyBatch(
        client,
        judge(
          batch.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: NOW })),
          NOW,
        ),
      );
      const { rows } = await client.query<{ month: string; scans: number }>(
        `select c.relname as month, sum(pg_stat_get_xact_numscans(i.indexrelid))::int as scans
           from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'metering' and c.relname ~ '^events_[0-9]{4}_[0-9]{2}$' group by c.relname`,
      );
      scans = Object.fromEntries(rows.map((r) => [r.month, r.scans]));
      await client.query('commit');
    } finally {
      client.release();
      await own.end();
    }
    await applyRaw(reference, batch, NOW);
    assert.equal(scans.events_2026_08, 0, JSON.stringify(scans));
    assert.ok(scans.events_2026_09! > 0 && scans.events_2026_12! > 0, JSON.stringify(scans));
  });

  test('vault archive drops each month that ended before the cut as a table; what stays moves on; usage as if never archived', async () => {
    const before = await usageOf(db);
    const r = await archiveEvents(db.pool, { before: new Date('2026-11-01T00:00:00Z'), dir });
    assert.deepEqual(r.months, ['2026-08', '2026-09', '2026-10']);
    assert.ok(r.events > 0);
    const parts = await partitions(db);
    assert.deepEqual(
      parts.filter((p) => p < 'events_2026_11'),
      [],
    );
    const { rows } = await db.pool.query(`select to_regclass('metering.events_2026_08') as t`);
    assert.equal(rows[0].t, null);
    // The kept events (app-1's and addon-x's last before the cut), dyno-b's open start and addon-g's all
    // (its hole was filled after the cut, so nothing of it goes) stayed, in the current month.
    const { rows: stayed } = await db.pool.query<{ id: string }>(
      `select id from metering.events where id like 'o%' and stored_month = date_trunc('month', now() at time zone 'UTC')::date order by id`,
    );
    assert.deepEqual(
      stayed.map((s) => s.id),
      ['o4', 'o6', 'o7', 'o8', 'o9'],
    );
    assert.deepEqual(await usageOf(db), before);
    // Every subject's events are now in unsealed months (or gone): none is read from a dropped month.
    const { rows: bounds } = await db.pool.query('select subject from metering.subject_months');
    assert.deepEqual(bounds, []);
    // Later events derive as on the database that never archived.
    const later = [
      event('n6', 'addon.plan_changed', 'addon-x', 4, '2026-12-02T00:00:00Z', { app_id: 'app-1', plan: 'standard-0' }),
      event('n7', 'dyno.stopped', 'dyno-c', 2, '2026-12-02T00:00:00Z', { app_id: 'app-1' }),
      event('n8', 'app.owner_changed', 'app-1', 4, '2026-12-03T00:00:00Z', { app_id: 'app-1', account_id: 'acct-1' }),
    ];
    await applyRaw(db, later, NOW);
    await applyRaw(reference, later, NOW);
    assert.deepEqual(await usageOf(db), await usageOf(reference));
    // An archived event re-sent is still a duplicate.
    const resent = await applyRaw(db, [OLD[1]!], NOW);
    assert.equal(resent.duplicates, 1);
  });

  test('a sequence beyond 32 bits is stored; a row with no month to go to fails its batch instead of being rejected', async () => {
    const big = await applyRaw(
      db,
      [event('b1', 'app.owner_changed', 'app-big', 3_000_000_000, '2026-12-01T00:00:00Z', { app_id: 'app-big', account_id: 'acct-1' })],
      NOW,
    );
    assert.equal(big.applied, 1);
    assert.deepEqual(big.rejected, []);
    const err = await db.pool
      .query(
        `insert into metering.events (source, id, type, subject, sequence, time, data, stored_month)
         values ('platform', 'far', 'app.owner_changed', 'app-big', 3000000001, '2026-12-01T00:00:00Z', '{}', '2099-01-01')`,
      )
      .then(
        () => assert.fail('stored without a partition'),
        (e: unknown) => e,
      );
    assert.equal((err as { code?: string }).code, '23514');
    assert.equal(isStoreRefusal(err), false);
  });

  test('month tables a killed run left (emptied but attached, detaching, or detached) are dropped by the next run; one holding events is refused', async () => {
    await db.pool.query('create table metering.events_2026_07 (like metering.events)');
    // And one killed after its rows moved, before its detach: still attached, empty.
    await db.pool.query('create table metering.events_2026_05 (like metering.events including defaults including constraints)');
    await db.pool.query(
      `alter table metering.events attach partition metering.events_2026_05 for values from ('2026-05-01') to ('2026-06-01')`,
    );
    // And one killed inside its DETACH … CONCURRENTLY: cancelled while it waited for a reader of the
    // events, it is left detaching (inhdetachpending).
    await db.pool.query('create table metering.events_2026_04 (like metering.events including defaults including constraints)');
    await db.pool.query(
      `alter table metering.events attach partition metering.events_2026_04 for values from ('2026-04-01') to ('2026-05-01')`,
    );
    const reader = await db.pool.connect();
    const detacher = await db.pool.connect();
    try {
      await reader.query('begin');
      await reader.query('select count(*) from metering.events');
      await detacher.query(`set statement_timeout = '300ms'`);
      await assert.rejects(
        detacher.query('alter table metering.events detach partition metering.events_2026_04 concurrently'),
        /statement timeout/,
      );
      await detacher.query('reset statement_timeout');
      await reader.query('commit');
    } finally {
      reader.release();
      detacher.release();
    }
    const { rows: pending } = await db.pool.query(
      `select i.inhdetachpending from pg_inherits i where i.inhrelid = 'metering.events_2026_04'::regclass`,
    );
    assert.deepEqual(pending, [{ inhdetachpending: true }]);
    const r = await archiveEvents(db.pool, { before: new Date('2026-11-01T00:00:00Z'), dir });
    assert.deepEqual(r.months, ['2026-04', '2026-05', '2026-07']);
    assert.deepEqual(
      (await partitions(db)).filter((p) => p < 'events_2026_11'),
      [],
    );
    await db.pool.query('create table metering.events_2026_06 (like metering.events)');
    await db.pool.query(
      `insert into metering.events_2026_06 (source, id, type, subject, sequence, time, data, received_at, stored_month)
       values ('platform', 'x', 'dyno.stopped', 'dyno-x', 1, '2026-06-02T00:00:00Z', '{}', '2026-06-02T00:00:00Z', '2026-06-01')`,
    );
    await assert.rejects(archiveEvents(db.pool, { before: new Date('2026-11-01T00:00:00Z'), dir }), /events_2026_06 still holds 1 events/);
  });
});
