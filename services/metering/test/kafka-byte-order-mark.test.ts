import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IncomingMessage } from '@vault/bus';
import { BusReceived } from '../src/consumer/apply-messages.ts';
import { judge } from '../src/domain/judge.ts';
import { judgeUncompiled } from '../src/domain/judge-reference.ts';

// A Kafka message's value opening with a UTF-8 byte order mark (a publisher that wrote a file
// saved by a Windows tool) is the same event as without it, as at the HTTP door: it was refused
// not_json, though the same bytes posted to /v1/events were applied.
const NOW = Date.parse('2026-11-01T00:00:00Z');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const EVENT = {
  specversion: '1.0',
  id: 'bom-1',
  source: 'dyno-manager',
  type: 'dyno.stopped',
  time: '2026-10-03T16:00:00Z',
  subject: 'dyno-1',
  sequence: 2,
  data: { app_id: 'app-1' },
};

function message(value: Buffer, headers: Record<string, string> = {}): IncomingMessage {
  return { topic: 't', partition: 0, offset: '0', key: 'dyno-1', value, timestamp: NOW, headers };
}

function judgedOne(m: IncomingMessage) {
  const received = [new BusReceived(m)];
  const answer = judge(received, NOW);
  assert.deepEqual(judgeUncompiled(received, NOW), answer, 'the reference judge answers alike');
  return answer;
}

describe('Kafka message values with a UTF-8 byte order mark (pure)', () => {
  test('structured mode: the event behind one leading BOM is valid, with the content hash of the same event without it', () => {
    const plain = judgedOne(message(Buffer.from(JSON.stringify(EVENT))));
    const marked = judgedOne(message(Buffer.concat([BOM, Buffer.from(JSON.stringify(EVENT))])));
    assert.deepEqual(marked.invalid, [], 'not refused not_json');
    assert.equal(marked.valid[0]?.contentHash, plain.valid[0]?.contentHash, 'the same event: a resend is a duplicate, not a conflict');
  });

  test('binary mode: data opening with a BOM is read as its JSON, the same event as without it', () => {
    const { data, specversion, id, source, type, time, subject, sequence } = EVENT;
    const headers = {
      ce_specversion: specversion,
      ce_id: id,
      ce_source: source,
      ce_type: type,
      ce_time: time,
      ce_subject: subject,
      ce_sequence: String(sequence),
      'content-type': 'application/json',
    };
    const plain = judgedOne(message(Buffer.from(JSON.stringify(data)), headers));
    const marked = judgedOne(message(Buffer.concat([BOM, Buffer.from(JSON.stringify(data))]), headers));
    assert.deepEqual(marked.invalid, []);
    assert.equal(marked.valid[0]?.contentHash, plain.valid[0]?.contentHash);
  });

  test('only one mark is dropped: two are still not JSON, and a mark inside the text is kept', () => {
    const twice = judgedOne(message(Buffer.concat([BOM, BOM, Buffer.from(JSON.stringify(EVENT))])));
    assert.deepEqual(
      twice.invalid[0]?.reasons.map((r) => [r.field, r.code]),
      [['', 'not_json']],
    );
    const inside = judgedOne(message(Buffer.from(JSON.stringify({ ...EVENT, data: { app_id: '\uFEFFapp-1' } }))));
    assert.equal(inside.valid[0]?.dataJson, JSON.stringify({ app_id: '\uFEFFapp-1' }), 'data is kept as sent');
  });
});
