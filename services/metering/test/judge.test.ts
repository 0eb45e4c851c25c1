import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contentHash } from '../src/domain/content-hash.ts';
import { judge, receiverClock } from '../src/domain/judge.ts';

const T = Date.parse('2026-10-20T12:00:00Z');
const event = (time: string, data: object = { app_id: 'app-1', account_id: 'acct-1' }) =>
  Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: 'e1',
      source: 'app-registry',
      type: 'app.owner_changed',
      time,
      subject: 'app-1',
      sequence: 1,
      data,
    }),
  );

describe('judging a received message (pure)', () => {
  test('the receiver clock is the bus arrival time, never later than our own clock', () => {
    assert.equal(receiverClock(T, T + 60_000), T, 'a replay an hour later judges as the first pass did');
    assert.equal(receiverClock(T + 60_000, T), T, "a publisher's fast clock cannot pass a future event");
    assert.equal(receiverClock(-1, T), T, 'no usable bus timestamp: our clock');
  });

  // A record the producer stamped (Kafka CreateTime), with the mark 4e217e8 gave it to be judged by our
  // clock instead: the mark must change nothing (a variable, as Received no longer has the field).
  const createTime = (bytes: Buffer, stampMs: number) => {
    const received = { bytes, receivedAtMs: stampMs, producerClock: true };
    return received;
  };
  const aheadOf = (clockMs: number) => [`more than 5 minutes ahead of the receiver's clock (${new Date(clockMs).toISOString()})`];

  test('a producer stamp T, an event at T+10m, judged at T+20m (the consumer behind): rejected by the stamp, the lag loosens nothing', () => {
    const judged = judge([createTime(event('2026-10-20T12:10:00Z'), T)], T + 20 * 60_000);
    assert.equal(judged.valid.length, 0, 'a future event is never billed because the consumer was behind');
    assert.equal(judged.invalid[0]?.reasons[0]?.code, 'time_in_future');
    assert.deepEqual(
      judged.invalid[0]?.reasons.map((r) => r.message),
      aheadOf(T),
    );
  });

  test('a producer stamp an hour back: an event 10 minutes ahead of now is rejected naming the stamp, the clock it was judged by', () => {
    const now = Date.parse('2026-10-20T12:01:00Z');
    const stamped = now - 3_600_000;
    const judged = judge([createTime(event('2026-10-20T12:11:00Z'), stamped)], now);
    assert.deepEqual(
      judged.invalid[0]?.reasons.map((r) => r.message),
      aheadOf(stamped),
    );
  });

  test("a broker clock 1 s behind metering's: an event 4:59.5 ahead of metering's clock is rejected (metering.md: keep broker clocks in sync)", () => {
    const judged = judge([{ bytes: event('2026-10-20T12:04:59.500Z'), receivedAtMs: T - 1_000 }], T);
    assert.equal(judged.valid.length, 0);
    assert.deepEqual(
      judged.invalid[0]?.reasons.map((r) => r.message),
      aheadOf(T - 1_000),
    );
  });

  test('an event 10 minutes after its bus arrival stays rejected when judged again later', () => {
    const future = event('2026-10-20T12:10:00Z');
    const now = T + 3_600_000;
    const { valid, invalid } = judge([{ bytes: future, receivedAtMs: T }], now);
    assert.equal(valid.length, 0);
    assert.deepEqual(
      invalid[0]?.reasons.map((r) => r.code),
      ['time_in_future'],
    );
    assert.equal(judge([{ bytes: future, receivedAtMs: now }], now).valid.length, 1, 'arriving after its time it is valid');
  });

  test('a U+0000 in a valid event is refused naming the field, and identified by source, id and subject', () => {
    const { valid, invalid } = judge(
      [{ bytes: event('2026-10-20T11:00:00Z', { app_id: 'app-1', account_id: 'a\u0000b' }), receivedAtMs: T }],
      T,
    );
    assert.equal(valid.length, 0);
    assert.deepEqual(
      invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['data.account_id', 'store_refused']],
    );
    assert.deepEqual([invalid[0]?.source, invalid[0]?.eventId, invalid[0]?.subject], ['app-registry', 'e1', 'app-1']);
  });

  test('half a surrogate pair (an escaped "\\ud800") in an id, a data value or the source is refused naming it: stored, it would become U+FFFD and no longer match itself', () => {
    const raw = (id: string, data: string, source = 'app-registry') =>
      Buffer.from(
        `{"specversion":"1.0","id":"${id}","source":"${source}","type":"app.owner_changed","time":"2026-10-20T11:00:00Z","subject":"app-1","sequence":1,"data":${data}}`,
      );
    const { valid, invalid } = judge(
      [
        raw('e-\\ud800', '{"app_id":"app-1","account_id":"acct-1"}'),
        raw('e2', '{"app_id":"app-1","account_id":"acct-\\udc00"}'),
        raw('e3', '{"app_id":"app-1","account_id":"acct-1"}', 'app-registry\\udbff'),
        raw('e4', '{"app_id":"app-1","account_id":"acct-\\ud83d\\ude00"}'),
      ].map((bytes) => ({ bytes, receivedAtMs: T })),
      T,
    );
    assert.deepEqual(
      invalid.map((i) => [i.eventId, i.reasons.map((r) => [r.field, r.code, r.message])]),
      [
        ['e-\uFFFD', [['id', 'store_refused', 'contains half a surrogate pair (not Unicode text), which the store cannot hold']]],
        ['e2', [['data.account_id', 'store_refused', 'contains half a surrogate pair (not Unicode text), which the store cannot hold']]],
        ['e3', [['source', 'store_refused', 'contains half a surrogate pair (not Unicode text), which the store cannot hold']]],
      ],
    );
    assert.deepEqual(
      valid.map((v) => (v.event.data as { account_id?: string }).account_id),
      ['acct-\u{1F600}'],
      'a whole pair (an emoji) is Unicode text: valid',
    );
    assert.equal(invalid[2]?.source, 'app-registry\uFFFD', 'identified by text the store can hold');
  });

  test('identical content with keys in another order hashes alike', () => {
    const a = event('2026-10-20T11:00:00Z');
    const reordered = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(a.toString())).reverse())));
    const { valid } = judge(
      [
        { bytes: a, receivedAtMs: T },
        { bytes: reordered, receivedAtMs: T },
      ],
      T,
    );
    assert.equal(valid[0]?.contentHash, valid[1]?.contentHash);
  });

  test('the content hash of an event never changes: stored hashes are compared with new ones', () => {
    const stored = {
      specversion: '1.0',
      id: 'e-1',
      source: 'dyno-manager',
      type: 'dyno.stopped',
      time: '2026-10-01T00:00:00Z',
      subject: 'd-1',
      sequence: 2,
      data: { app_id: 'app-1' },
    };
    assert.equal(contentHash(stored), '4879bccbde453cb3133f4f3a33cc267428f3629b4614d4ea8b50b37ee7c1e35b');
  });
});
