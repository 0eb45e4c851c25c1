// A stored position is trusted only in the log it was read from, and only after
// the message at next_offset − 1 (the anchor) was read again (log-position.ts).
// The consumer loop's memory of that check (Contact) must never let it skip a
// new log's messages: not when a log changes under the same id (a broker that
// names no topic id, a truncated partition), and not when the transaction that
// judged a batch rolls back and the batch is judged again. Real PostgreSQL; the
// bus's batches built here as its adapters hand them over.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { after, describe, test } from 'node:test';
import type { Batch } from '@vault/bus';
import type { TestDatabase } from '@vault/testkit';
import { applyMessages, type MessagesResult } from '../src/consumer/apply-messages.ts';
import { messageHash, newContact, type Contact } from '../src/consumer/log-position.ts';
import { readCounters } from '../src/reports/store.ts';
import { busBatch, dynoStarts, meteringDatabases } from './harness.ts';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const { db, dropAll } = meteringDatabases();

const starts = dynoStarts;

/** `values` at `offset` on, in a log whose next offset is `highWatermark` (default: just after them). */
const batchOf = (values: string[], offset: number, highWatermark?: number): Batch => ({
  ...busBatch(values, offset, 0, NOW),
  ...(highWatermark === undefined ? {} : { highWatermark: String(highWatermark) }),
});

/** As the Kafka adapter hands it: fetched from `fetchedFrom`, nothing to read from there to `offset`. */
const kafkaBatch = (values: string[], offset: number, fetchedFrom: number): Batch => ({
  ...batchOf(values, offset),
  fetchedFrom: String(fetchedFrom),
});

/** Ten events applied at offsets 0–9 with the anchor checked: the partition is verified in `contact`. */
async function verifiedAtTen(pool: pg.Pool, contact: Contact) {
  const old = starts('old', 10);
  // Applied by an earlier process (this one would trust what it stored itself).
  assert.equal((await applyMessages(pool, batchOf(old.slice(0, 5), 0, 10), NOW)).applied, 5);
  // First contact with a stored position: the bus is asked for the anchor (offset 4) …
  assert.equal((await applyMessages(pool, batchOf(old.slice(5), 5), NOW, undefined, contact)).readFrom, '4');
  // … which hashes as the one applied: the rest applies, the partition is verified.
  const answered = await applyMessages(pool, batchOf(old.slice(4), 4), NOW, undefined, contact);
  assert.deepEqual([answered.applied, answered.skipped], [5, 1]);
  assert.equal(contact.verified.get(0), 'test-log');
}

const applied = async (d: TestDatabase) => (await readCounters(d.pool)).events_applied;

describe('the consumer never skips a log’s messages on the strength of a position from another log (real PostgreSQL)', () => {
  after(dropAll);

  test('a verified partition whose log changed under the same id: a batch wholly before the position is checked, the log found to end before it, and its events applied', async () => {
    const d = await db();
    const contact = newContact();
    await verifiedAtTen(d.pool, contact);
    // The topic is made again; a broker that names no topic id gives it the same log id. kafkajs,
    // asked for offset 10, is out of range and starts the new log from its first message.
    const fresh = starts('new', 3);
    const first = await applyMessages(d.pool, batchOf(fresh, 0), NOW, undefined, contact);
    assert.equal(first.readFrom, '9', 'the anchor is asked for again, nothing skipped');
    assert.equal(first.skipped, 0);
    // The bus reads from 9, which the new log does not hold: it starts again from 0.
    const again = await applyMessages(d.pool, batchOf(fresh, 0), NOW, undefined, contact);
    assert.match(again.change ?? '', /the log ends before offset 9, which was applied/);
    assert.equal(again.applied, 3, "the new log's messages are applied");
    assert.equal(await applied(d), 13);
  });

  test('a fresh partition this process read from 0 is not asked for its anchor at its next batch: nothing read twice', async () => {
    const d = await db();
    const contact = newContact(async () => 0n);
    const old = starts('old', 10);
    assert.equal((await applyMessages(d.pool, batchOf(old.slice(0, 5), 0, 10), NOW, undefined, contact)).applied, 5);
    assert.equal(contact.verified.get(0), 'test-log', 'the position it stored is one it read');
    const next = await applyMessages(d.pool, batchOf(old.slice(5), 5), NOW, undefined, contact);
    assert.deepEqual([next.readFrom, next.skipped, next.applied], [undefined, 0, 5]);
    // A replay wholly before the position is still checked against the anchor.
    assert.equal((await applyMessages(d.pool, batchOf(old.slice(2, 6), 2, 10), NOW, undefined, contact)).readFrom, '9');
    assert.equal(await applied(d), 10);
  });

  test('a replay wholly before the position, in the same log (its bus commit lost), is still skipped once the anchor is read again', async () => {
    const d = await db();
    const contact = newContact();
    await verifiedAtTen(d.pool, contact);
    const old = starts('old', 10);
    const replay = await applyMessages(d.pool, batchOf(old.slice(2, 6), 2, 10), NOW, undefined, contact);
    assert.equal(replay.readFrom, '9');
    const answered = await applyMessages(d.pool, batchOf(old.slice(9), 9), NOW, undefined, contact);
    assert.deepEqual([answered.applied, answered.skipped, answered.change], [0, 1, undefined]);
    assert.equal(await applied(d), 10);
  });

  test('a batch fetched before the ask was seen (it starts after the anchor the log still holds) is not taken as its answer', async () => {
    const d = await db();
    const old = starts('old', 10);
    await applyMessages(d.pool, batchOf(old.slice(0, 5), 0, 10), NOW);
    // A new process: first contact, the anchor is offset 4, and the log starts at 0.
    const contact = newContact(async () => 0n);
    assert.equal((await applyMessages(d.pool, batchOf(old.slice(5), 5), NOW, undefined, contact)).readFrom, '4');
    const stale = await applyMessages(d.pool, batchOf(old.slice(5), 5), NOW, undefined, contact);
    assert.equal(stale.readFrom, '4', 'asked again: the anchor was never checked');
    assert.notEqual(contact.verified.get(0), 'test-log');
    // Retention deleted the anchor: the log starts after it, and the id is all there is to check.
    const retained = newContact(async () => 5n);
    assert.equal((await applyMessages(d.pool, batchOf(old.slice(5), 5), NOW, undefined, retained)).readFrom, '4');
    assert.equal((await applyMessages(d.pool, batchOf(old.slice(5), 5), NOW, undefined, retained)).applied, 5);
  });

  test('a transaction rolled back after its batch was judged (a deadlock, retried) judges it again: the new log is still read from its start', async () => {
    const d = await db();
    await applyMessages(d.pool, batchOf(starts('old', 10), 0), NOW);
    const contact = newContact();
    const fresh = starts('new', 3);
    // First contact: the anchor (9) is asked for; the new log does not hold it.
    assert.equal((await applyMessages(d.pool, batchOf(fresh, 0), NOW, undefined, contact)).readFrom, '9');
    const result: MessagesResult = await applyMessages(deadlockOnce(d.pool), batchOf(fresh, 0), NOW, undefined, contact);
    assert.match(result.change ?? '', /the log ends before offset 9/);
    assert.equal(result.applied, 3, 'applied by the retry, not skipped as applied');
    assert.equal(await applied(d), 13);
  });

  test('a Kafka batch whose fetch began at or before the position (a transaction marker, an aborted transaction between) is applied from there: no hole, nothing asked', async () => {
    const d = await db();
    const contact = newContact(async () => 0n);
    await verifiedAtTen(d.pool, contact);
    // Offsets 10 and 11 were a commit marker and an aborted record: kafkajs read them and handed neither.
    const next = await applyMessages(d.pool, kafkaBatch(starts('next', 3), 12, 10), NOW, undefined, contact);
    assert.deepEqual([next.readFrom, next.hole, next.applied], [undefined, undefined, 3]);
    assert.equal(await applied(d), 13);
  });

  test('a Kafka batch fetched past the asked position while the log still holds it (a seek lost to a rejoin) is not the answer: asked again, nothing applied', async () => {
    const d = await db();
    const contact = newContact(async () => 0n);
    await verifiedAtTen(d.pool, contact);
    const later = starts('later', 3);
    assert.equal((await applyMessages(d.pool, kafkaBatch(later, 12, 12), NOW, undefined, contact)).readFrom, '10');
    const again = await applyMessages(d.pool, kafkaBatch(later, 12, 12), NOW, undefined, contact);
    assert.deepEqual([again.readFrom, again.hole, again.applied], ['10', undefined, 0]);
    assert.equal(await applied(d), 10, 'offsets 10 and 11 not skipped as lost');
    // Retention deleted them: the log starts after the position, and what is missing is a hole.
    const retained = newContact(async () => 12n);
    retained.verified.set(0, 'test-log');
    assert.equal((await applyMessages(d.pool, kafkaBatch(later, 12, 12), NOW, undefined, retained)).readFrom, '10');
    const hole = await applyMessages(d.pool, kafkaBatch(later, 12, 12), NOW, undefined, retained);
    assert.deepEqual([hole.hole, hole.applied], ['2', 3]);
  });

  test('the embedded bus, which reads exactly where asked, still answers an ask with a later batch: a hole, after one ask', async () => {
    const d = await db();
    const contact = newContact(async () => 0n);
    await verifiedAtTen(d.pool, contact);
    const later = starts('later', 3);
    assert.equal((await applyMessages(d.pool, batchOf(later, 12), NOW, undefined, contact)).readFrom, '10');
    const hole = await applyMessages(d.pool, batchOf(later, 12), NOW, undefined, contact);
    assert.deepEqual([hole.hole, hole.applied], ['2', 3]);
  });

  test('an anchor compacted away while the log starts below it is checked by the log id only, once: no ask for ever', async () => {
    const d = await db();
    await applyMessages(d.pool, batchOf(starts('old', 10), 0), NOW);
    const contact = newContact(async () => 0n);
    const rest = starts('rest', 3);
    assert.equal((await applyMessages(d.pool, kafkaBatch(rest, 10, 10), NOW, undefined, contact)).readFrom, '9');
    // Read from 9, the fetch found no message there: compaction removed it.
    const answered = await applyMessages(d.pool, kafkaBatch(rest, 10, 9), NOW, undefined, contact);
    assert.deepEqual([answered.readFrom, answered.anchorGone, answered.applied, answered.change], [undefined, '9', 3, undefined]);
    assert.equal(contact.verified.get(0), 'test-log');
    // A compacted topic's next batch fetched from before the anchor says nothing new: no second warning.
    const next = await applyMessages(d.pool, kafkaBatch(starts('more', 2), 13, 13), NOW, undefined, contact);
    assert.deepEqual([next.anchorGone, next.applied], [undefined, 2]);
  });

  test('back on a log it left, the transaction that resumes rolled back (a deadlock, retried): resumed once, where metering left the log, nothing applied twice', async () => {
    const d = await db();
    const old = starts('old', 10);
    await applyMessages(d.pool, batchOf(old, 0), NOW);
    // Another log (the embedded bus, then Kafka): read from its start; the position left at 10 is kept.
    const away = await applyMessages(d.pool, { ...batchOf(starts('away', 3), 0), log: 'other-log' }, NOW);
    assert.deepEqual([away.change, away.applied], ['the batch comes from another log', 3]);
    // Back: the log now starts at 9 (trimmed below the message before the position).
    const back: Batch = batchOf([old[9]!, ...starts('back', 3)], 9);
    const result = await applyMessages(deadlockOnce(d.pool), back, NOW);
    assert.deepEqual(
      [result.readFrom, result.hole, result.skipped, result.applied, result.action],
      [undefined, undefined, 1, 3, 'resumed at offset 10, where metering left this log (the message before it is checked first)'],
    );
    assert.equal(await applied(d), 16);
    const { rows } = await d.pool.query<{ to_log: string; action: string }>(
      'select to_log, action from metering.log_changes where partition = 0 order by id',
    );
    assert.deepEqual(
      rows.map((r) => [r.to_log, r.action.split(';')[0]]),
      [
        ['other-log', 'read again from its start'],
        ['test-log', 'resumed at offset 10, where metering left this log (the message before it is checked first)'],
      ],
    );
  });

  test('back on a log it left whose message before the position is now another (the log changed under the same id): read again from 0, not resumed', async () => {
    const d = await db();
    await applyMessages(d.pool, batchOf(starts('old', 10), 0), NOW);
    await applyMessages(d.pool, { ...batchOf(starts('away', 3), 0), log: 'other-log' }, NOW);
    const contact = newContact(async () => 0n);
    const changed = starts('changed', 4);
    // First contact with the position taken back: the message before it is asked for …
    assert.equal((await applyMessages(d.pool, batchOf(changed.slice(1), 10), NOW, undefined, contact)).readFrom, '9');
    // … and is not the one applied there.
    const answered = await applyMessages(d.pool, batchOf(changed, 9), NOW, undefined, contact);
    assert.deepEqual([answered.readFrom, answered.change], ['0', 'the message at offset 9 is not the one applied there']);
    assert.equal(answered.action?.split(';')[0], 'read again from its start');
  });

  test("a binary-mode message's headers are part of its hash: two events with the same data and timestamp differ", () => {
    const [m] = busBatch(['{"app_id":"a"}'], 0, 0, NOW).messages;
    const a = { ...m!, headers: { ce_id: 'e-1', ce_source: 's' } };
    const b = { ...m!, headers: { ce_id: 'e-2', ce_source: 's' } };
    assert.notEqual(messageHash(a), messageHash(b));
    assert.equal(messageHash({ ...a, headers: { ce_source: 's', ce_id: 'e-1' } }), messageHash(a), 'header order does not matter');
    // The digest the code before headers counted gave this message (6d04534): positions stored then stay valid.
    const before = {
      topic: 't',
      partition: 0,
      offset: '0',
      key: 'dyno-d1',
      value: Buffer.from('{"app_id":"app-1"}'),
      timestamp: 1_790_000_000_000,
    };
    const PINNED = '5f65034e82c7418d6b5658e27ef9096560818dbd5ed937ba2be5f0b1c1263aeb';
    assert.equal(messageHash(before), PINNED, 'a message without headers hashes as before');
    assert.equal(messageHash({ ...before, headers: {} }), PINNED);
  });

  test('a position stored before headers counted, whose anchor has headers, is recognised: the anchor is skipped as applied, nothing read again', async () => {
    const d = await db();
    const values = starts('hdr', 3);
    const withHeaders = (b: Batch): Batch => ({
      ...b,
      // A header that is no CloudEvents attribute (a ce_ one would make the message binary mode).
      messages: b.messages.map((m) => ({ ...m, headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })),
    });
    await applyMessages(d.pool, withHeaders(batchOf(values, 0)), NOW);
    // As the code before headers counted stored it: key, value and timestamp only.
    const anchor = withHeaders(batchOf(values, 0)).messages[2]!;
    const legacy = messageHash({ ...anchor, headers: {} });
    assert.notEqual(legacy, messageHash(anchor));
    await d.pool.query('update metering.consumer_positions set last_hash = $1', [legacy]);
    const contact = newContact();
    const replay = withHeaders(batchOf(values, 0));
    assert.equal((await applyMessages(d.pool, replay, NOW, undefined, contact)).change, undefined);
    assert.equal(contact.verified.get(0), 'test-log', 'checked, not started again');
    assert.equal(await applied(d), 3);
  });
});

/** `pool`, whose transaction fails with a deadlock once, as it stores the position (after the verdict). */
function deadlockOnce(pool: pg.Pool): pg.Pool {
  let failed = false;
  const client = (c: pg.PoolClient) =>
    new Proxy(c, {
      get(target, name, receiver) {
        if (name !== 'query') return Reflect.get(target, name, receiver);
        return (q: unknown, ...rest: unknown[]) => {
          if (!failed && (q as { name?: string } | null)?.name === 'metering.store-position') {
            failed = true;
            return Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' }));
          }
          return (target.query as (...a: unknown[]) => unknown)(q, ...rest);
        };
      },
    });
  return new Proxy(pool, {
    get(target, name, receiver) {
      // pool.query connects with a callback: left alone (only the transaction's client fails).
      if (name === 'connect') return (...args: []) => (args.length > 0 ? target.connect(...args) : target.connect().then(client));
      return Reflect.get(target, name, receiver);
    },
  });
}
