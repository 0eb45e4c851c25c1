import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { logfmt, memoryLogger } from '../src/index.ts';

describe('logfmt', () => {
  const cases: [string, Parameters<typeof logfmt>[0], string][] = [
    ['bare values stay bare', { at: 'info', n: 3 }, 'at=info n=3'],
    ['values with spaces are quoted', { msg: 'two words' }, 'msg="two words"'],
    ['quotes and equals signs are escaped', { v: 'a="b"' }, 'v="a=\\"b\\""'],
    ['an empty string is quoted', { v: '' }, 'v=""'],
    ['undefined fields are left out', { a: 1, b: undefined }, 'a=1'],
    ['dates are ISO 8601 UTC', { t: new Date(Date.UTC(2026, 9, 1)) }, 't=2026-10-01T00:00:00.000Z'],
    ['a control character alone is quoted and escaped', { v: 'a\u001b[2Jb' }, 'v="a\\u001b[2Jb"'],
    ['DEL and C1 controls are escaped', { v: 'a\u007fb\u009b' }, 'v="a\\u007fb\\u009b"'],
    ['a key that cannot be written bare has _ for each offending character', { 'a b=\n': 1 }, 'a_b__=1'],
  ];
  for (const [name, fields, line] of cases) test(name, () => assert.equal(logfmt(fields), line));

  test('a value with ESC, U+2028, U+2029, NEL and a newline is one line, no raw control characters, and means the same', () => {
    const value = 'x\u001b[31my\u2028z\u2029w\u0085v\nu\r\t';
    const line = logfmt({ v: value });
    assert.doesNotMatch(line, /[\p{Cc}\u2028\u2029]/u);
    assert.equal(line.split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/).length, 1);
    assert.ok(line.startsWith('v="') && line.endsWith('"'));
    assert.equal(JSON.parse(line.slice(2)), value);
  });
});

describe('logger', () => {
  test('writes one line per event, with l2met measures and counts', () => {
    const log = memoryLogger({ app: 'metering' });
    log.info('batch.applied', { size: 3 });
    log.measure('metering.apply_time', 12.5, 'ms');
    log.count('metering.events_applied', 3);
    log.error('bus.failed', new Error('broker gone'), { topic: 't' });
    assert.deepEqual(log.lines, [
      'app=metering at=info event=batch.applied size=3',
      'app=metering measure#metering.apply_time=12.5ms',
      'app=metering count#metering.events_applied=3',
      'app=metering at=error event=bus.failed topic=t error="broker gone" error_class=Error',
    ]);
  });

  test("a caller's field named like one of the logger's own is written as field.<name>, never replacing it", () => {
    const log = memoryLogger({ app: 'metering' });
    log.info('batch.applied', { event: 'forged', at: 'error', app: 'other', size: 3 });
    log.error('bus.failed', new Error('broker gone'), { error: 'mine', 'field.error': 'also mine' });
    log.error('gateway.error', undefined, { error_class: 'Declined' });
    log.count('x', 2, { 'count#x': 9 });
    log.warn('w', { event: undefined });
    // A child's own field passed again with the same value is not news: written once.
    log.child({ topic: 't' }).info('c', { topic: 't' });
    assert.deepEqual(log.lines, [
      'app=metering at=info event=batch.applied field.event=forged field.at=error field.app=other size=3',
      'app=metering at=error event=bus.failed field.field.error=mine field.error="also mine" error="broker gone" error_class=Error',
      'app=metering at=error event=gateway.error error_class=Declined',
      'app=metering count#x=2 field.count#x=9',
      'app=metering at=warn event=w',
      'app=metering topic=t at=info event=c',
    ]);
  });
});
