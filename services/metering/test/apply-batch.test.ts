import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseEvent } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { applyRefusing } from '../src/consumer/apply-messages.ts';
import { judge, type Judged } from '../src/domain/judge.ts';
import { referenceContentHash } from '../src/domain/judge-reference.ts';
import { assess } from '../src/intake/intake.ts';
import { readCounters } from '../src/reports/store.ts';
import { applyRaw, exampleLines as lines, meteringDatabase, usageOf as usage } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');

function toBatch(raws: string[]): Judged {
  return judge(
    raws.map((raw) => ({ bytes: Buffer.from(raw), receivedAtMs: NOW })),
    NOW,
  );
}

const databases: TestDatabase[] = [];
async function meteringDb(): Promise<TestDatabase> {
  const db = await meteringDatabase();
  databases.push(db);
  return db;
}

const apply = (db: TestDatabase, raws: string[]) => applyRaw(db, raws, NOW);

describe('metering: applying batches of events (real PostgreSQL)', () => {
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('october.ndjson in one batch: 13 applied, 2 duplicates, and the usage of the month', async () => {
    const db = await meteringDb();
    const result = await apply(db, lines('october.ndjson'));
    assert.equal(result.applied, 13);
    assert.equal(result.duplicates, 2);
    assert.deepEqual(result.rejected, []);
    const { intervals, owners, gaps } = await usage(db);
    assert.deepEqual(gaps, []);
    assert.deepEqual(
      intervals.map((i) => [i.subject, i.key, i.product, i.from, i.to]),
      [
        ['addon-log1', 'addon-log1', 'addon:papertrail:choklad', '2026-10-02 00:00:00+00', '2026-10-03 00:00:00+00'],
        ['addon-pg1', 'addon-pg1', 'addon:heroku-postgresql:essential-0', '2026-10-05 00:00:00+00', '2026-10-20 00:00:00+00'],
        ['addon-pg1', 'addon-pg1', 'addon:heroku-postgresql:standard-0', '2026-10-20 00:00:00+00', null],
        ['dyno-d1', 'web.1', 'dyno:standard-1x', '2026-10-01 00:00:00+00', '2026-10-11 00:00:00+00'],
        ['dyno-d2', 'web.1', 'dyno:standard-1x', '2026-10-10 12:00:00+00', null],
        ['dyno-d3', 'worker.1', 'dyno:basic', '2026-09-28 08:00:00+00', null],
        ['dyno-r1', 'run.4821', 'dyno:standard-2x', '2026-10-07 12:00:00+00', '2026-10-07 13:30:00+00'],
      ],
    );
    assert.deepEqual(
      owners.map((o) => [o.app_id, o.account_id, o.from, o.to]),
      [
        ['app-1', 'acct-1', '2026-09-15 09:30:00+00', null],
        ['app-2', 'acct-1', '2026-09-20 00:00:00+00', '2026-10-16 00:00:00+00'],
        ['app-2', 'acct-2', '2026-10-16 00:00:00+00', null],
      ],
    );
  });

  test('arrival order never changes the result: one event per batch, reversed, replayed twice', async () => {
    const inOrder = await meteringDb();
    await apply(inOrder, lines('october.ndjson'));
    const shuffled = await meteringDb();
    const reversed = [...lines('october.ndjson')].reverse();
    for (const raw of [...reversed, ...reversed]) await apply(shuffled, [raw]);
    assert.deepEqual(await usage(shuffled), await usage(inOrder));
    assert.deepEqual(await readCounters(shuffled.pool), { events_applied: 13, events_duplicate: 17, events_rejected: 0 });
  });

  test('invalid.ndjson after october: all 10 rejected, kept as received, usage unchanged', async () => {
    const db = await meteringDb();
    await apply(db, lines('october.ndjson'));
    const before = await usage(db);
    const result = await apply(db, lines('invalid.ndjson'));
    assert.equal(result.applied, 0);
    assert.equal(result.rejected.length, 10);
    assert.deepEqual(
      result.rejected.at(-1)?.reasons.map((r) => r.code),
      ['id_reused'],
    );
    assert.deepEqual(await usage(db), before);
    const { rows } = await db.pool.query('select raw from metering.rejected_events order by id');
    assert.deepEqual(rows.map((r) => r.raw).sort(), [...lines('invalid.ndjson')].sort());
  });

  test('a sequence hole marks the subject unreliable until the missing event arrives', async () => {
    const db = await meteringDb();
    const ev = (id: string, seq: number, type: string, time: string, data: object) =>
      JSON.stringify({ specversion: '1.0', id, source: 'addon-service', type, time, subject: 'addon-x', sequence: seq, data });
    const e1 = ev('x1', 1, 'addon.provisioned', '2026-10-01T00:00:00Z', { app_id: 'app-9', service: 'heroku-redis', plan: 'mini' });
    const e2 = ev('x2', 2, 'addon.plan_changed', '2026-10-10T00:00:00Z', { app_id: 'app-9', plan: 'premium-0' });
    const e3 = ev('x3', 3, 'addon.deprovisioned', '2026-10-20T00:00:00Z', { app_id: 'app-9' });
    await apply(db, [e1, e3]);
    let state = await usage(db);
    assert.deepEqual(state.gaps, [{ subject: 'addon-x', missing_sequence: '2' }]);
    assert.deepEqual(
      state.intervals.map((i) => [i.product, i.to]),
      [['addon:heroku-redis:mini', null]],
    );
    await apply(db, [e2]);
    state = await usage(db);
    assert.deepEqual(state.gaps, []);
    assert.deepEqual(
      state.intervals.map((i) => [i.product, i.from, i.to]),
      [
        ['addon:heroku-redis:mini', '2026-10-01 00:00:00+00', '2026-10-10 00:00:00+00'],
        ['addon:heroku-redis:premium-0', '2026-10-10 00:00:00+00', '2026-10-20 00:00:00+00'],
      ],
    );
  });

  test('a re-send of the stored event is a duplicate even when a reuse of its id comes before it in the batch', async () => {
    const db = await meteringDb();
    const original = lines('october.ndjson').find((l) => JSON.parse(l).id === 'evt-0004')!;
    const reuse = JSON.stringify({ ...JSON.parse(original), time: '2026-10-12T00:00:00Z' });
    await apply(db, [original]);
    // The verdict must not depend on batch boundaries: split up, these are a reuse and a duplicate.
    const result = await apply(db, [reuse, original]);
    assert.deepEqual([result.applied, result.duplicates, result.rejected.length], [0, 1, 1]);
    assert.equal(JSON.parse(result.rejected[0]!.received.bytes.toString()).time, '2026-10-12T00:00:00Z');
  });

  test('an event stored with datacontenttype by its hash of then (the field in it): its copies with or without the field are duplicates, other content reused, to the intake and the consumer', async () => {
    const db = await meteringDb();
    const sent = {
      specversion: '1.0',
      id: 'evt-dct',
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-03T14:00:00.000Z',
      subject: 'dyno-dct',
      sequence: 2,
      data: { app_id: 'app-1' },
    };
    const structured = JSON.stringify({ ...sent, datacontenttype: 'application/json' });
    // Stored as the judge stored it before the field was left out: the parsed event hashed whole.
    const parsed = parseEvent(structured, { now: NOW });
    assert.ok(parsed.ok);
    const legacy = referenceContentHash(parsed.event);
    const judged = toBatch([structured]);
    assert.notEqual(judged.valid[0]!.contentHash, legacy, 'the field is no part of the content now');
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await applyRefusing(client, { valid: [{ ...judged.valid[0]!, contentHash: legacy }], invalid: [] });
      await client.query('commit');
    } finally {
      client.release();
    }
    const copies = [structured, JSON.stringify(sent), JSON.stringify({ ...sent, datacontenttype: 'application/json; charset=utf-8' })];
    const reuse = JSON.stringify({ ...sent, datacontenttype: 'application/json', data: { app_id: 'app-2' } });
    const { report } = await assess(
      db.pool,
      [...copies, reuse].map((raw, index) => ({ index, bytes: Buffer.from(raw) })),
      NOW,
    );
    assert.deepEqual(
      [report.accepted, report.duplicates, report.rejected.map((r) => [r.index, r.reasons[0]?.code])],
      [0, 3, [[3, 'id_reused']]],
    );
    const result = await apply(db, [...copies, reuse]);
    assert.deepEqual([result.applied, result.duplicates, result.rejected.map((r) => r.reasons[0]?.code)], [0, 3, ['id_reused']]);
  });

  test('an id of a stored event reused by an event of a new subject is rejected as reused, the rest of the batch applied whole', async () => {
    const db = await meteringDb();
    await apply(db, lines('october.ndjson'));
    // dyno-new has no history, so its event is not looked up by key: the keys' unique index catches the reuse.
    const stopped = JSON.parse(lines('october.ndjson').find((l) => JSON.parse(l).id === 'evt-0004')!);
    const reuse = JSON.stringify({
      ...stopped,
      subject: 'dyno-new',
      sequence: 1,
      type: 'dyno.started',
      data: { app_id: 'app-1', name: 'web.9', size: 'basic' },
    });
    const fresh = JSON.stringify({ ...JSON.parse(reuse), id: 'evt-fresh', subject: 'dyno-fresh' });
    const result = await apply(db, [reuse, fresh]);
    assert.deepEqual([result.applied, result.duplicates, result.isolated], [1, 0, false]);
    assert.deepEqual(
      result.rejected.map((r) => [r.eventId, r.reasons.map((x) => x.code)]),
      [['evt-0004', ['id_reused']]],
    );
    const { rows } = await db.pool.query(`select id, subject from metering.events where id in ('evt-0004', 'evt-fresh') order by id`);
    assert.deepEqual(rows, [
      { id: 'evt-0004', subject: 'dyno-d1' },
      { id: 'evt-fresh', subject: 'dyno-fresh' },
    ]);
    const { intervals } = await usage(db);
    assert.deepEqual(
      intervals.filter((i) => i.subject.startsWith('dyno-new') || i.subject === 'dyno-fresh').map((i) => [i.subject, i.from]),
      [['dyno-fresh', '2026-10-11 00:00:00+00']],
    );
  });

  test('a late event that leaves a span empty records it as vanished, learned when it arrived, once (migration 022)', async () => {
    const db = await meteringDb();
    await apply(db, lines('october.ndjson'));
    const event = (id: string, type: string, subject: string, sequence: number, time: string, data: object) =>
      JSON.stringify({ specversion: '1.0', id, source: 'late', type, time, subject, sequence, data });
    const { rows: before } = await db.pool.query<{ now: Date }>('select now()');
    // A deprovisioning at the plan change's instant, a stop at the dyno's start: their intervals are gone.
    const late = [
      event('late-1', 'addon.deprovisioned', 'addon-pg1', 3, '2026-10-20T00:00:00Z', { app_id: 'app-1' }),
      event('late-2', 'dyno.stopped', 'dyno-d2', 2, '2026-10-10T12:00:00Z', { app_id: 'app-1' }),
    ];
    assert.equal((await apply(db, late)).applied, 2);
    const vanished = () =>
      db.pool.query(`select v.app_id, v.kind, v.at::text, v.learned_at > $1 as late from metering.billable_vanished v order by v.at`, [
        before[0]!.now,
      ]);
    const want = [
      { app_id: 'app-1', kind: 'dyno', at: '2026-10-10 12:00:00+00', late: true },
      { app_id: 'app-1', kind: 'addon', at: '2026-10-20 00:00:00+00', late: true },
    ];
    assert.deepEqual((await vanished()).rows, want);
    assert.deepEqual(
      (await usage(db)).intervals.filter((i) => i.subject === 'dyno-d2' || i.subject === 'addon-pg1').map((i) => i.product),
      ['addon:heroku-postgresql:essential-0'],
    );
    // Derived again (a later event of the dyno, the stored events again): nothing more.
    await apply(db, [
      event('late-3', 'dyno.started', 'dyno-d2', 3, '2026-10-12T00:00:00Z', { app_id: 'app-1', name: 'web.1', size: 'basic' }),
    ]);
    await apply(db, late);
    assert.deepEqual((await vanished()).rows, want);
  });

  test('the database itself refuses overlapping intervals of one subject', async () => {
    const db = await meteringDb();
    const insert = (from: string, to: string) =>
      db.pool.query(
        `insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
         values ('dyno-z', 'dyno', 'app-1', 'web.1', 'dyno:basic', tstzrange($1, $2), now())`,
        [from, to],
      );
    await insert('2026-10-01T00:00:00Z', '2026-10-05T00:00:00Z');
    await assert.rejects(insert('2026-10-04T00:00:00Z', '2026-10-06T00:00:00Z'), /exclusion constraint/);
  });
});
