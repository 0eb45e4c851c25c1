// Events stored, and keys claimed, by their hash of before `time` was hashed
// as its instant (time as written): a copy sent exactly as it was is still a
// duplicate, to the consumer, the intake's look at the store, and the intake's
// claims, and never taken for other content (real PostgreSQL).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseEvent } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { applyRefusing } from '../src/consumer/apply-messages.ts';
import { judge } from '../src/domain/judge.ts';
import { referenceContentHash } from '../src/domain/judge-reference.ts';
import { assess, settle } from '../src/intake/intake.ts';
import { applyRaw, meteringDatabase } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');

const databases: TestDatabase[] = [];
async function meteringDb(): Promise<TestDatabase> {
  const db = await meteringDatabase();
  databases.push(db);
  return db;
}

const stopped = (id: string, time: string, appId = 'app-1') =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'dyno-manager',
    type: 'dyno.stopped',
    time,
    subject: `dyno-${id}`,
    sequence: 2,
    data: { app_id: appId },
  });

/** The hash the judge gave the event before instants: the parsed event hashed with `time` as written. */
function asSentHash(raw: string): string {
  const parsed = parseEvent(raw, { now: NOW });
  assert.ok(parsed.ok);
  return referenceContentHash(parsed.event);
}

/** Stores `sent` as the judge stored it then: its row and key under its hash of then (time as written), which differs now. */
async function storeAsThen(db: TestDatabase, sent: string): Promise<void> {
  const then = asSentHash(sent);
  const judged = judge([{ bytes: Buffer.from(sent), receivedAtMs: NOW }], NOW);
  assert.notEqual(judged.valid[0]!.contentHash, then, 'hashed otherwise now');
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    await applyRefusing(client, { valid: [{ ...judged.valid[0]!, contentHash: then }], invalid: [] });
    await client.query('commit');
  } finally {
    client.release();
  }
}

describe('metering: `time` hashed as its instant, against hashes stored before (real PostgreSQL)', () => {
  after(() => Promise.all(databases.map((d) => d.drop())));

  test('an event stored by its hash of then (time as written, +02:00): a copy sent as it was is a duplicate to the intake and the consumer, other content reused', async () => {
    const db = await meteringDb();
    const sent = stopped('evt-then', '2026-10-03T16:00:00+02:00');
    await storeAsThen(db, sent);
    const reuse = stopped('evt-then', '2026-10-03T16:00:00+02:00', 'app-2');
    const { report } = await assess(
      db.pool,
      [sent, reuse].map((raw, index) => ({ index, bytes: Buffer.from(raw) })),
      NOW,
    );
    assert.deepEqual(
      [report.accepted, report.duplicates, report.rejected.map((r) => [r.index, r.reasons[0]?.code])],
      [0, 1, [[1, 'id_reused']]],
    );
    const result = await applyRaw(db, [sent, reuse], NOW);
    assert.deepEqual([result.applied, result.duplicates, result.rejected.map((r) => r.reasons[0]?.code)], [0, 1, ['id_reused']]);
  });

  test('an event stored, and one claimed, by its hash of then (…T…Z, lower case refused then): its lower-case `t`/`z` copy is a duplicate to the intake and the consumer, never id reused', async () => {
    const db = await meteringDb();
    const sent = stopped('evt-upper', '2026-10-03T16:00:00Z');
    const lower = stopped('evt-upper', '2026-10-03t16:00:00z');
    await storeAsThen(db, sent);
    const { report } = await assess(db.pool, [{ index: 0, bytes: Buffer.from(lower) }], NOW);
    assert.deepEqual([report.accepted, report.duplicates, report.rejected], [0, 1, []]);
    const result = await applyRaw(db, [lower], NOW);
    assert.deepEqual([result.applied, result.duplicates, result.rejected], [0, 1, []]);
    // Claimed (not yet stored) by its hash of then: the lower-case copy is a duplicate, the claim kept.
    const claimed = stopped('evt-claimed', '2026-10-03T17:00:00Z');
    await db.pool.query('insert into metering.intake_claims (source, id, content_hash, claim) values ($1, $2, $3, gen_random_uuid())', [
      'dyno-manager',
      'evt-claimed',
      asSentHash(claimed),
    ]);
    const assessment = await assess(db.pool, [{ index: 0, bytes: Buffer.from(stopped('evt-claimed', '2026-10-03t17:00:00z')) }], NOW);
    const settled = await settle(db.pool, assessment);
    assert.deepEqual([settled.accepted, settled.duplicates, settled.rejected], [0, 1, []]);
  });

  test("the intake's claim of a key by its hash of then: the same event re-sent as then is a duplicate, live or refused (never taken over), other content reused", async () => {
    const db = await meteringDb();
    const claim = async (raw: string, refused: boolean) => {
      const { source, id } = JSON.parse(raw) as { source: string; id: string };
      await db.pool.query(
        'insert into metering.intake_claims (source, id, content_hash, claim, refused) values ($1, $2, $3, gen_random_uuid(), $4)',
        [source, id, asSentHash(raw), refused],
      );
    };
    const answer = async (raws: string[]) => {
      const assessment = await assess(
        db.pool,
        raws.map((raw, index) => ({ index, bytes: Buffer.from(raw) })),
        NOW,
      );
      const report = await settle(db.pool, assessment);
      return [report.accepted, report.duplicates, report.rejected.map((r) => [r.index, r.reasons[0]?.code])];
    };
    const live = stopped('evt-live', '2026-10-03T14:00:00Z');
    await claim(live, false);
    assert.deepEqual(await answer([live, stopped('evt-live', '2026-10-03T14:00:00Z', 'app-2')]), [0, 1, [[1, 'id_reused']]]);
    const refused = stopped('evt-refused', '2026-10-03T14:00:00.000000Z');
    await claim(refused, true);
    assert.deepEqual(await answer([refused]), [0, 1, []], 'the same content: not a claim to take over');
    const { rows } = await db.pool.query('select content_hash, refused from metering.intake_claims where id = $1', ['evt-refused']);
    assert.deepEqual(rows, [{ content_hash: asSentHash(refused), refused: true }]);
    // Other content takes a refused claim over, as before.
    assert.deepEqual(await answer([stopped('evt-refused', '2026-10-03T14:00:00.000000Z', 'app-2')]), [1, 0, []]);
  });
});
