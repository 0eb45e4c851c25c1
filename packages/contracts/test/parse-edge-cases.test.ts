// Table-driven edge cases of parseEvent: each row changes one thing in a
// valid event and names the field and code it must be rejected with (or
// `null` when it must still be accepted).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReasons, parseEvent, type EventType } from '../src/index.ts';
import { NOW, validEvent } from './fixtures.ts';

type Row = {
  name: string;
  input: unknown;
  /** Expected [field, code] of every reason, in order; null = accepted. */
  expect: Array<[string, string]> | null;
  now?: Date | number;
};

function check(rows: Row[]): void {
  for (const row of rows) {
    test(row.name, () => {
      const result = parseEvent(row.input, { now: row.now ?? NOW });
      if (row.expect === null) {
        assert.ok(result.ok, result.ok ? '' : formatReasons(result.reasons));
      } else {
        assert.equal(result.ok, false, 'expected a rejection');
        if (result.ok) return;
        assert.deepEqual(
          result.reasons.map((r) => [r.field, r.code]),
          row.expect,
          formatReasons(result.reasons),
        );
      }
    });
  }
}

const started = (overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) =>
  validEvent('dyno.started', overrides, data);

describe('time', () => {
  const at = (time: unknown) => started({ time });
  check([
    { name: 'Z offset is accepted', input: at('2026-10-01T00:00:00Z'), expect: null },
    { name: '+02:00 offset is accepted', input: at('2026-10-07T14:00:00+02:00'), expect: null },
    { name: '-05:30 offset is accepted', input: at('2026-10-07T14:00:00-05:30'), expect: null },
    { name: 'fractional seconds are accepted', input: at('2026-10-01T00:00:00.123456Z'), expect: null },
    { name: 'a time without an offset is rejected', input: at('2026-10-01T00:00:00'), expect: [['time', 'invalid_format']] },
    { name: 'a lower-case z offset is accepted (RFC 3339 §5.6 NOTE)', input: at('2026-10-01T00:00:00z'), expect: null },
    { name: 'a lower-case t separator is accepted (RFC 3339 §5.6 NOTE)', input: at('2026-10-01t00:00:00Z'), expect: null },
    { name: 'lower-case t and z with a fraction are accepted', input: at('2026-10-01t00:00:00.5z'), expect: null },
    { name: 'a leap second is rejected, in either case', input: at('2026-12-31t23:59:60z'), expect: [['time', 'invalid_format']] },
    { name: 'a space separator is rejected', input: at('2026-10-01 00:00:00Z'), expect: [['time', 'invalid_format']] },
    { name: 'a time without seconds is rejected', input: at('2026-10-01T00:00Z'), expect: [['time', 'invalid_format']] },
    { name: 'an offset without a colon is rejected', input: at('2026-10-01T00:00:00+0200'), expect: [['time', 'invalid_format']] },
    { name: 'an impossible date (30 February) is rejected', input: at('2026-02-30T00:00:00Z'), expect: [['time', 'invalid_format']] },
    { name: 'epoch milliseconds instead of a string are rejected', input: at(1790812800000), expect: [['time', 'invalid_type']] },
    { name: 'a missing time is required', input: started({ time: undefined }), expect: [['time', 'required']] },
  ]);
});

describe('5-minute future rule uses opts.now, not the clock', () => {
  const now = Date.parse('2026-10-01T12:00:00Z');
  check([
    { name: 'exactly 5 minutes ahead is accepted', input: started({ time: '2026-10-01T12:05:00Z' }), now, expect: null },
    {
      name: '5 minutes and 1 ms ahead is rejected',
      input: started({ time: '2026-10-01T12:05:00.001Z' }),
      now,
      expect: [['time', 'time_in_future']],
    },
    {
      name: 'the boundary compares instants across offsets (+02:00, exactly 5 minutes)',
      input: started({ time: '2026-10-01T14:05:00+02:00' }),
      now,
      expect: null,
    },
    {
      name: 'the boundary compares instants across offsets (+02:00, 1 s past)',
      input: started({ time: '2026-10-01T14:05:01+02:00' }),
      now,
      expect: [['time', 'time_in_future']],
    },
    { name: 'any time in the past is accepted', input: started({ time: '1999-01-01T00:00:00Z' }), now, expect: null },
    {
      name: 'a Date works as now too',
      input: started({ time: '2026-10-01T12:06:00Z' }),
      now: new Date(now),
      expect: [['time', 'time_in_future']],
    },
    {
      name: 'a 2099 event is accepted by a receiver whose clock says 2099',
      input: started({ time: '2099-01-01T00:00:00Z' }),
      now: new Date('2099-01-01T00:00:00Z'),
      expect: null,
    },
  ]);

  test('an invalid now is a programming error and throws', () => {
    assert.throws(() => parseEvent(started(), { now: new Date('nope') }), TypeError);
  });
});

describe('envelope fields', () => {
  check([
    { name: 'an id of 128 chars is accepted', input: started({ id: 'x'.repeat(128) }), expect: null },
    { name: 'an id of 129 chars is rejected', input: started({ id: 'x'.repeat(129) }), expect: [['id', 'too_long']] },
    { name: 'an empty id is rejected', input: started({ id: '' }), expect: [['id', 'too_short']] },
    { name: 'a numeric id is rejected', input: started({ id: 42 }), expect: [['id', 'invalid_type']] },
    { name: 'a null id is a wrong type, not missing', input: started({ id: null }), expect: [['id', 'invalid_type']] },
    { name: 'a source of 256 chars is accepted', input: started({ source: 's'.repeat(256) }), expect: null },
    { name: 'a source of 257 chars is rejected', input: started({ source: 's'.repeat(257) }), expect: [['source', 'too_long']] },
    { name: 'a subject of 129 chars is rejected', input: started({ subject: 'd'.repeat(129) }), expect: [['subject', 'too_long']] },
    { name: 'specversion "1.0" as a number is rejected', input: started({ specversion: 1.0 }), expect: [['specversion', 'invalid_value']] },
    { name: 'datacontenttype application/json is accepted', input: started({ datacontenttype: 'application/json' }), expect: null },
    {
      name: 'another datacontenttype is rejected',
      input: started({ datacontenttype: 'text/plain' }),
      expect: [['datacontenttype', 'invalid_value']],
    },
    {
      name: 'a datacontenttype that is not a string is a wrong type',
      input: started({ datacontenttype: 42 }),
      expect: [['datacontenttype', 'invalid_type']],
    },
    {
      name: 'sequence 0 is rejected as below 1, not also as a type rule',
      input: started({ sequence: 0 }),
      expect: [['sequence', 'too_small']],
    },
    { name: 'a fractional sequence is rejected', input: started({ sequence: 1.5 }), expect: [['sequence', 'invalid_type']] },
    { name: 'a sequence as a string is rejected', input: started({ sequence: '1' }), expect: [['sequence', 'invalid_type']] },
    { name: 'missing data is required', input: started({ data: undefined }), expect: [['data', 'required']] },
    { name: 'data that is not an object is rejected', input: started({ data: 'web.1' }), expect: [['data', 'invalid_type']] },
  ]);
});

describe('whole message', () => {
  check([
    { name: 'text that is not JSON is not_json on the whole message', input: '{"id": ', expect: [['', 'not_json']] },
    { name: 'a JSON array is not_object', input: '[]', expect: [['', 'not_object']] },
    { name: 'JSON null is not_object', input: 'null', expect: [['', 'not_object']] },
    { name: 'bytes that are not UTF-8 are not_json', input: new Uint8Array([0xff, 0xfe, 0x7b]), expect: [['', 'not_json']] },
    {
      name: 'a byte-order mark is not_json, as bytes and as text alike',
      input: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(started()))]),
      expect: [['', 'not_json']],
    },
    { name: 'a byte-order mark in text is not_json', input: `\uFEFF${JSON.stringify(started())}`, expect: [['', 'not_json']] },
    { name: 'UTF-8 bytes of a valid event are accepted', input: new TextEncoder().encode(JSON.stringify(started())), expect: null },
    { name: 'JSON text of a valid event is accepted', input: JSON.stringify(started()), expect: null },
    {
      name: 'an unknown type gives one reason on type, plus other envelope faults, not a cascade of union errors',
      input: started({ type: 'dyno.exploded', id: undefined }),
      expect: [
        ['id', 'required'],
        ['type', 'unknown_type'],
      ],
    },
    { name: 'a missing type is required', input: started({ type: undefined }), expect: [['type', 'required']] },
    { name: 'a non-string type is unknown_type', input: started({ type: 7 }), expect: [['type', 'unknown_type']] },
    {
      // 10 KiB of `[`: rendering it for the message overflowed the stack, and parseEvent threw (a 500 at
      // the door, and a message the consumer could never judge, stalling its partition).
      name: 'a type nested 5,000 arrays deep is unknown_type, never a throw (as text and as a decoded value)',
      input: JSON.stringify(started()).replace('"dyno.started"', `${'['.repeat(5_000)}"dyno.started"${']'.repeat(5_000)}`),
      expect: [['type', 'unknown_type']],
    },
    {
      name: 'a type that is an object nested 5,000 deep is unknown_type',
      input: JSON.stringify(started()).replace('"dyno.started"', `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`),
      expect: [['type', 'unknown_type']],
    },
    {
      name: 'several faults are all reported, in envelope order',
      input: started({ sequence: 2, time: '2026-10-01T00:00:00' }, { size: 'Standard-1X' }),
      expect: [
        ['time', 'invalid_format'],
        ['sequence', 'sequence_mismatch'],
        ['data.size', 'invalid_format'],
      ],
    },
  ]);
});

describe('per-type rules', () => {
  const withSeq = (type: EventType, sequence: number) => validEvent(type, { sequence });
  check([
    {
      name: 'app.owner_changed with data.app_id ≠ subject is rejected on data.app_id',
      input: validEvent('app.owner_changed', { subject: 'app-2' }),
      expect: [['data.app_id', 'app_id_mismatch']],
    },
    { name: 'app.owner_changed accepts any sequence ≥ 1 (a transfer)', input: withSeq('app.owner_changed', 7), expect: null },
    { name: 'dyno.started with sequence 2 is rejected', input: withSeq('dyno.started', 2), expect: [['sequence', 'sequence_mismatch']] },
    { name: 'dyno.stopped with sequence 2 is accepted', input: withSeq('dyno.stopped', 2), expect: null },
    { name: 'dyno.stopped with sequence 1 is rejected', input: withSeq('dyno.stopped', 1), expect: [['sequence', 'sequence_mismatch']] },
    { name: 'dyno.stopped with sequence 3 is rejected', input: withSeq('dyno.stopped', 3), expect: [['sequence', 'sequence_mismatch']] },
    {
      name: 'addon.provisioned with sequence 2 is rejected',
      input: withSeq('addon.provisioned', 2),
      expect: [['sequence', 'sequence_mismatch']],
    },
    {
      name: 'addon.plan_changed with sequence 1 is rejected',
      input: withSeq('addon.plan_changed', 1),
      expect: [['sequence', 'sequence_mismatch']],
    },
    { name: 'addon.plan_changed with sequence 5 is accepted', input: withSeq('addon.plan_changed', 5), expect: null },
    {
      name: 'addon.deprovisioned with sequence 1 is rejected',
      input: withSeq('addon.deprovisioned', 1),
      expect: [['sequence', 'sequence_mismatch']],
    },
    { name: 'addon.deprovisioned with sequence 2 is accepted', input: withSeq('addon.deprovisioned', 2), expect: null },
    { name: 'dyno.started missing data.size is required', input: started({}, { size: undefined }), expect: [['data.size', 'required']] },
    { name: 'dyno.started with an empty name is rejected', input: started({}, { name: '' }), expect: [['data.name', 'too_short']] },
    { name: 'an app_id of 129 chars is rejected', input: started({}, { app_id: 'a'.repeat(129) }), expect: [['data.app_id', 'too_long']] },
    {
      name: "an unknown but well-formed plan is accepted (pricing is not the event's business)",
      input: validEvent('addon.plan_changed', {}, { plan: 'mystery-9' }),
      expect: null,
    },
  ]);
});

describe('datacontenttype: JSON as a media type (RFC 9110), its only parameter charset=utf-8', () => {
  // What an SDK relay sends on structured after reading a binary-mode event: `application/json; charset=utf-8`.
  const accepted = [
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/json;charset=UTF-8',
    'application/json \t;\t Charset="utf-8"',
  ];
  const refused = [
    'application/json; charset=latin1',
    'application/json; charset=utf8',
    'application/json; charset = utf-8',
    'application/json; charset=utf-8; q=1',
    'application/json;',
    'application/json ',
    ' application/json',
    'application / json',
    'application/jsonp',
    'text/json',
  ];
  check([
    ...accepted.map((type) => ({ name: `${JSON.stringify(type)} is accepted`, input: started({ datacontenttype: type }), expect: null })),
    ...refused.map((type) => ({
      name: `${JSON.stringify(type)} is rejected`,
      input: started({ datacontenttype: type }),
      expect: [['datacontenttype', 'invalid_value']] as Array<[string, string]>,
    })),
  ]);
});

describe('slugs (size, service, plan)', () => {
  const cases: Array<[string, EventType, string, string, boolean]> = [
    ['size standard-1x', 'dyno.started', 'size', 'standard-1x', true],
    ['size 2x (leading digit)', 'dyno.started', 'size', '2x', true],
    ['size with upper case', 'dyno.started', 'size', 'Standard-1X', false],
    ['size with a leading hyphen', 'dyno.started', 'size', '-basic', false],
    ['empty size', 'dyno.started', 'size', '', false],
    ['service with an underscore', 'addon.provisioned', 'service', 'heroku_postgresql', false],
    ['service with a space', 'addon.provisioned', 'service', 'heroku postgresql', false],
    ['plan with a dot', 'addon.provisioned', 'plan', 'essential.0', false],
    ['plan with a trailing hyphen (allowed by the pattern)', 'addon.plan_changed', 'plan', 'standard-', true],
  ];
  check(
    cases.map(([what, type, key, value, ok]) => ({
      name: `${what}: ${ok ? 'accepted' : 'rejected as invalid_format'}`,
      input: validEvent(type, {}, { [key]: value }),
      expect: ok ? null : [[`data.${key}`, 'invalid_format']],
    })),
  );
});

describe('unknown fields', () => {
  test('unknown envelope and data fields are accepted and stripped from the event', () => {
    const input = started({ traceparent: '00-abc', dataschema: 'x' }, { region: 'eu', size: 'standard-1x' });
    const result = parseEvent(input, { now: NOW });
    assert.ok(result.ok);
    assert.ok(!('traceparent' in result.event) && !('dataschema' in result.event));
    assert.deepEqual(result.event.data, { app_id: 'app-1', name: 'web.1', size: 'standard-1x' });
  });

  test('the input object is not mutated', () => {
    const input = started({ traceparent: '00-abc' });
    const before = structuredClone(input);
    parseEvent(input, { now: NOW });
    assert.deepEqual(input, before);
  });

  test('the same event as text and as a decoded value gives the same result', () => {
    const input = started({ extra: true });
    assert.deepEqual(parseEvent(JSON.stringify(input), { now: NOW }), parseEvent(input, { now: NOW }));
  });
});
