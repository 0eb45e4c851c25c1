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
  ];
  for (const [name, fields, line] of cases) test(name, () => assert.equal(logfmt(fields), line));
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
});
