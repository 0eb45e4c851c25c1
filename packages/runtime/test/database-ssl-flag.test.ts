// DATABASE_URL's ssl=, node-pg's older switch: only the values it takes at their
// word are accepted. Any other string (ssl=false, ssl=no, ssl=off) node-pg took as
// TLS on, unchecked by the configuration; ssl= (empty) as no TLS.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'pg-connection-string';
import { BootSettings, parseConfig } from '../src/index.ts';
import { REMOTE_DATABASE_URL as BASE, problem } from './config-problem.ts';

/** TLS on or off as node-pg 8 decides it from the parsed URL (connection-parameters.js: any string but '' is on). */
const tlsOn = (url: string) => Boolean(parse(url).ssl);

describe("DATABASE_URL's ssl=: the values node-pg takes at their word, the others config.invalid naming DATABASE_URL", () => {
  test('true, 1, no-verify and 0 are taken, meaning what node-pg does with them', () => {
    for (const [value, on] of [
      ['true', true],
      ['1', true],
      ['no-verify', true],
      ['0', false],
    ] as const) {
      const url = `${BASE}?ssl=${value}`;
      assert.equal(parseConfig(BootSettings, { DATABASE_URL: url }).DATABASE_URL, url);
      assert.equal(tlsOn(url), on, value);
    }
  });

  test('false, no, off, yes, require and an empty value are refused: node-pg would take all but the empty one as TLS on', () => {
    for (const value of ['false', 'no', 'off', 'yes', 'require', 'TRUE']) {
      // The reason it is refused: a value meaning "off" is TLS on to node-pg.
      assert.equal(tlsOn(`${BASE}?ssl=${value}`), true, value);
      assert.equal(
        problem({ DATABASE_URL: `${BASE}?ssl=${value}` }),
        `DATABASE_URL: ssl must be true or 1 (TLS, the certificate checked), no-verify (TLS, not checked) or 0 (no TLS), not "${value}" (node-pg would take it as TLS on)`,
      );
    }
    assert.match(problem({ DATABASE_URL: `${BASE}?ssl=` }), /^DATABASE_URL: ssl must be true or 1 .*, not ""/);
    assert.ok(!problem({ DATABASE_URL: `${BASE}?ssl=false` }).includes('s3cret-pass'));
  });

  test('given twice, or beside sslmode, or other than true/1 beside a certificate file: refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'database-ssl-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    assert.equal(problem({ DATABASE_URL: `${BASE}?ssl=0&ssl=1` }), 'DATABASE_URL: ssl is given more than once');
    assert.equal(
      problem({ DATABASE_URL: `${BASE}?ssl=0&sslmode=verify-full` }),
      'DATABASE_URL: give ssl or sslmode, not both: node-pg ignores ssl=0 when sslmode is given',
    );
    // ssl=0 with a CA file is TLS to node-pg.
    assert.equal(tlsOn(`${BASE}?ssl=0&sslrootcert=${ca}`), true);
    assert.equal(
      problem({ DATABASE_URL: `${BASE}?ssl=0&sslrootcert=${ca}` }),
      'DATABASE_URL: ssl=0 is ignored by node-pg when sslrootcert is given (it uses TLS, the certificate checked); write sslmode instead',
    );
    const url = `${BASE}?ssl=true&sslrootcert=${ca}`;
    assert.equal(parseConfig(BootSettings, { DATABASE_URL: url }).DATABASE_URL, url);
  });
});
