// arrayLiteral's text is read by PostgreSQL as exactly the values given, for
// any text (quotes, backslashes, braces, commas, spaces, "NULL", the empty
// string, characters beyond U+FFFF) and any safe integer, on the real server;
// jsonArrayLiteral's, as the JSON values whose texts it was given.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { arrayLiteral, jsonArrayLiteral } from '../src/index.ts';

describe('arrayLiteral: a text[] parameter PostgreSQL reads back unchanged (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('array_literal');
  });
  after(() => db?.drop());

  test('the awkward values, and none at all', async () => {
    const values = ['', 'NULL', 'null', ' spaced ', 'a,b', '{x}', '"quoted"', 'back\\slash', '\\"', '日本', '🙂', '{"a":"b\\"c"}'];
    for (const v of [values, [], ['']]) {
      const { rows } = await db.pool.query<{ a: string[] }>('select $1::text[] as a', [arrayLiteral(v)]);
      assert.deepEqual(rows[0]!.a, v);
    }
  });

  test('a null is read back as NULL, beside the text "NULL" and values to escape', async () => {
    const values = [null, 'NULL', 'a"b', null, '', 'back\\slash'];
    const { rows } = await db.pool.query<{ a: (string | null)[] }>('select $1::text[] as a', [arrayLiteral(values)]);
    assert.deepEqual(rows[0]!.a, values);
    const times = await db.pool.query<{ a: (string | null)[] }>('select $1::timestamptz[]::text[] as a', [
      arrayLiteral(['2026-11-02T10:00:00Z', null]),
    ]);
    assert.deepEqual(times.rows[0]!.a, ['2026-11-02 10:00:00+00', null]);
  });

  test('any text without U+0000 (which PostgreSQL cannot hold), and any safe integer', async () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { maxLength: 8 }), fc.array(fc.maxSafeInteger(), { maxLength: 8 }), async (texts, numbers) => {
        const { rows } = await db.pool.query<{ t: string[]; n: string[] }>('select $1::text[] as t, $2::bigint[]::text[] as n', [
          arrayLiteral(texts),
          arrayLiteral(numbers),
        ]);
        assert.deepEqual(rows[0]!.t, texts);
        assert.deepEqual(rows[0]!.n, numbers.map(String));
      }),
      { numRuns: 200 },
    );
  });

  test('jsonArrayLiteral: any JSON value without U+0000, as JSON.stringify writes it, is read back as that jsonb, and written as arrayLiteral would', async () => {
    const json = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('\\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(json, { maxLength: 6 }), async (values) => {
        const texts = values.map((v) => JSON.stringify(v));
        assert.equal(jsonArrayLiteral(texts), texts.length === 0 ? '{}' : arrayLiteral(texts));
        const { rows } = await db.pool.query<{ same: boolean }>(
          'select coalesce($1::jsonb[] = array(select jsonb_array_elements($2::jsonb)), false) as same',
          [jsonArrayLiteral(texts), JSON.stringify(values)],
        );
        assert.equal(rows[0]!.same, true);
      }),
      { numRuns: 200 },
    );
  });
});
