// A bearer value that cannot be a publisher token is refused without asking
// the database: past the failed-token limit a flood of junk still reaches the
// verifier (a valid token is let in from any address), and would cost a query each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { publisherToken } from '../src/access/tokens.ts';

function countingPool(): { pool: pg.Pool; queries: () => number } {
  let n = 0;
  const pool = {
    async query() {
      n++;
      return { rows: [] };
    },
  } as unknown as pg.Pool;
  return { pool, queries: () => n };
}

test('junk, an oversized value or another kind of token costs no query; a publisher-shaped one is looked up', async () => {
  const { pool, queries } = countingPool();
  for (const junk of [
    'x',
    'a'.repeat(8000),
    'vt_acct_0123456789abcdef0123456789abcdef',
    `vt_pub_${'A'.repeat(31)}`,
    `vt_pub_${'A'.repeat(33)}`,
    `vt_pub_${'A'.repeat(31)}=`,
  ]) {
    assert.equal(await publisherToken(pool, junk), undefined, junk.slice(0, 40));
  }
  assert.equal(queries(), 0);
  assert.equal(await publisherToken(pool, `vt_pub_${'A'.repeat(32)}`), undefined, 'unknown');
  assert.equal(queries(), 1);
});
