// DATABASE_STATEMENT_TIMEOUT_MS: every app reads it once at boot, with the others; a bad value names it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requestSessionSettings } from '@vault/db';
import { ConfigError, parseConfig } from '@vault/runtime';
import { APP_SETTINGS } from '../scripts/cli/vault-settings.ts';

describe('DATABASE_STATEMENT_TIMEOUT_MS', () => {
  test('every app reads it: 30000 by default, 0 (no limit) allowed, whole milliseconds up to an hour', () => {
    for (const [app, schema] of Object.entries(APP_SETTINGS)) {
      const read = (value?: string) =>
        (parseConfig(schema, value === undefined ? {} : { DATABASE_STATEMENT_TIMEOUT_MS: value }) as Record<string, unknown>)
          .DATABASE_STATEMENT_TIMEOUT_MS;
      assert.equal(read(), 30_000, app);
      assert.equal(read(''), 30_000, `${app}: blank is unset`);
      assert.equal(read('0'), 0, app);
      assert.equal(read('300'), 300, app);
    }
  });

  test('a bad value is a ConfigError naming the variable', () => {
    for (const [app, schema] of Object.entries(APP_SETTINGS)) {
      for (const value of ['abc', '1.5', '-1', '3600001', '3e4']) {
        assert.throws(
          () => parseConfig(schema, { DATABASE_STATEMENT_TIMEOUT_MS: value }),
          (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'DATABASE_STATEMENT_TIMEOUT_MS'),
          `${app}: ${value}`,
        );
      }
    }
  });

  test("the request sessions' settings: none for 0; the idle-in-transaction backstop never under the gateway's waits", () => {
    assert.deepEqual(requestSessionSettings(0), {});
    assert.deepEqual(requestSessionSettings(300), { statement_timeout: '300', idle_in_transaction_session_timeout: '120000' });
    assert.deepEqual(requestSessionSettings(600_000), { statement_timeout: '600000', idle_in_transaction_session_timeout: '600000' });
  });
});

describe('DATABASE_STATEMENT_TIMEOUT_MS: a floor', () => {
  test('1–99 ms (every request would be stopped) is a ConfigError naming the variable and the floor; 0 stays "no limit", 100 is taken', () => {
    for (const [app, schema] of Object.entries(APP_SETTINGS)) {
      for (const value of ['1', '50', '99']) {
        assert.throws(
          () => parseConfig(schema, { DATABASE_STATEMENT_TIMEOUT_MS: value }),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.problems.some((p) => p.variable === 'DATABASE_STATEMENT_TIMEOUT_MS' && /0 \(no limit\) or at least 100 ms/.test(p.message)),
          `${app}: ${value}`,
        );
      }
      const read = (value: string) =>
        (parseConfig(schema, { DATABASE_STATEMENT_TIMEOUT_MS: value }) as Record<string, unknown>).DATABASE_STATEMENT_TIMEOUT_MS;
      assert.equal(read('0'), 0, app);
      assert.equal(read('100'), 100, app);
    }
  });
});
