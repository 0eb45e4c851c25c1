// DATABASE_URL's password in a boot error: masked where it is a secret, without
// garbling the text when it is a letter or two (every `a` was "***").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseBootError } from '../src/index.ts';
import { maskPassword } from '../src/mask-password.ts';

const SETTINGS = { VAULT_HOME: '.vault', EMBEDDED_PG_PORT: 1 };
const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe("a boot error never shows DATABASE_URL's password, and a short one garbles nothing", () => {
  test('a one-letter password: the text is intact', () => {
    const err = databaseBootError(refused, { ...SETTINGS, DATABASE_URL: 'postgres://vault:a@127.0.0.1:5999/vault' });
    assert.equal(err.message, 'DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:5999: connection refused');
  });

  test('a long password never appears, bare or percent-encoded', () => {
    const long = 'correct horse/battery';
    const url = `postgres://vault:${encodeURIComponent(long)}@127.0.0.1:5999/vault`;
    const echoed = new Error(`server said: ${long} and ${encodeURIComponent(long)}`);
    const err = databaseBootError(echoed, { ...SETTINGS, DATABASE_URL: url });
    assert.equal(err.message, 'DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:5999: server said: *** and ***');
  });

  test("the URL's userinfo form is masked whatever the password's length", () => {
    const url = 'postgres://vault:ab@db:5432/vault';
    assert.equal(maskPassword(`tried ${url}, got ab`, url), 'tried postgres://vault:***@db:5432/vault, got ab');
    assert.equal(maskPassword('no password here', 'postgres://vault@db/vault'), 'no password here');
  });
});
