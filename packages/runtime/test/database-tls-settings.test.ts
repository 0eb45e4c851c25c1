// DATABASE_URL's certificate files and PGSSLMODE, as the configuration reads
// them. node-pg reads sslrootcert, sslcert and sslkey when it first connects, so
// a missing file was "cannot reach PostgreSQL … ENOENT"; and it honours
// PGSSLMODE (require as verify-full, an unknown value as no TLS) unchecked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'pg-connection-string';
import { BootSettings, ConfigError, parseConfig } from '../src/index.ts';
import { REMOTE_DATABASE_URL as BASE, problem } from './config-problem.ts';

describe("DATABASE_URL's sslrootcert, sslcert and sslkey: a file node-pg cannot read is refused naming the parameter and the path", () => {
  const dir = mkdtempSync(join(tmpdir(), 'database-tls-'));
  const readable = join(dir, 'ca.pem');
  writeFileSync(readable, '-----BEGIN CERTIFICATE-----\n');

  test('a readable file is taken, as written', () => {
    const url = `${BASE}?sslmode=verify-full&sslrootcert=${readable}&sslcert=${readable}&sslkey=${readable}`;
    assert.equal(parseConfig(BootSettings, { DATABASE_URL: url }).DATABASE_URL, url);
  });

  for (const name of ['sslrootcert', 'sslcert', 'sslkey']) {
    test(`${name}: a missing file, and a directory`, () => {
      const missing = join(dir, 'missing', 'file.pem');
      const said = problem({ DATABASE_URL: `${BASE}?sslmode=verify-full&${name}=${missing}` });
      assert.equal(said, `DATABASE_URL: ${name}=${missing}: no such file`);
      assert.ok(!said.includes('s3cret-pass'), said);
      assert.equal(problem({ DATABASE_URL: `${BASE}?${name}=${dir}` }), `DATABASE_URL: ${name}=${dir}: not a file`);
    });
  }

  test('a percent-encoded path is named decoded, as node-pg opens it', () => {
    const missing = join(dir, 'my ca.pem');
    assert.equal(
      problem({ DATABASE_URL: `${BASE}?sslrootcert=${encodeURIComponent(missing)}` }),
      `DATABASE_URL: sslrootcert=${missing}: no such file`,
    );
  });

  test('a file without read permission', () => {
    // Its own directory, open to all: a child running as nobody must reach the file to be refused it.
    const open = mkdtempSync(join(tmpdir(), 'database-tls-locked-'));
    chmodSync(open, 0o755);
    const locked = join(open, 'locked.key');
    writeFileSync(locked, 'key');
    chmodSync(locked, 0o000);
    const env = { DATABASE_URL: `${BASE}?sslkey=${locked}` };
    // Root reads any file: as root, the configuration is read by a child process that became nobody.
    const said = process.getuid?.() === 0 ? problemAsNobody(env) : problem(env);
    assert.equal(said, `DATABASE_URL: sslkey=${locked}: not readable (permission denied)`);
  });
});

describe('sslrootcert=system, libpq\'s "the system\'s CAs", which node-pg reads as a file name', () => {
  test('node-pg (pg-connection-string) opens a file named system: it has no such word', () => {
    assert.throws(
      () => parse(`${BASE}?sslmode=verify-full&sslrootcert=system`),
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.path === 'system',
    );
  });

  test('is refused naming the parameter, why, and what to write instead; ./system is a file like any other', () => {
    const said = `DATABASE_URL: sslrootcert=system (libpq's system CAs) is not supported by node-pg, which reads sslrootcert as a file name; leave sslrootcert out: sslmode=verify-full checks the certificate against Node's CAs (add one with NODE_EXTRA_CA_CERTS), or write ./system for a file of that name`;
    assert.equal(problem({ DATABASE_URL: `${BASE}?sslmode=verify-full&sslrootcert=system` }), said);
    assert.equal(problem({ DATABASE_URL: `${BASE}?sslrootcert=system` }), said);
    assert.equal(problem({ DATABASE_URL: `${BASE}?sslrootcert=./system` }), 'DATABASE_URL: sslrootcert=./system: no such file');
  });
});

/**
 * `problem(env)` in a child process that loads the code as root, then becomes nobody (uid and gid
 * 65534) before it reads the configuration: only the file under test is read as nobody.
 */
function problemAsNobody(env: Record<string, string>): string {
  const helper = pathToFileURL(fileURLToPath(new URL('./config-problem.ts', import.meta.url))).href;
  const code =
    `import { problem } from ${JSON.stringify(helper)}; ` +
    `process.setgid(65534); process.setuid(65534); process.stdout.write(problem(${JSON.stringify(env)}));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', code], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, `the child as nobody: ${child.stderr || child.error}`);
  return child.stdout;
}

describe("PGSSLMODE, which node-pg honours for a DATABASE_URL without TLS parameters, is checked as the URL's sslmode is", () => {
  test('disable, verify-full and no-verify are taken; blank is unset', () => {
    for (const mode of ['disable', 'verify-full', 'no-verify'])
      assert.equal(parseConfig(BootSettings, { PGSSLMODE: mode }).PGSSLMODE, mode);
    assert.equal(parseConfig(BootSettings, { PGSSLMODE: '' }).PGSSLMODE, undefined);
  });

  test('where node-pg ignores it, it is not judged: a DATABASE_URL with its own TLS parameter, or none (the embedded PostgreSQL, sslmode=disable)', () => {
    for (const url of [`${BASE}?sslmode=verify-full`, `${BASE}?sslmode=disable`, `${BASE}?ssl=true`])
      assert.equal(parseConfig(BootSettings, { PGSSLMODE: 'require', DATABASE_URL: url }).DATABASE_URL, url);
    assert.equal(parseConfig(BootSettings, { PGSSLMODE: 'prefer' }).PGSSLMODE, 'prefer');
  });

  test("its problem comes with every other variable's, in one error", () => {
    try {
      parseConfig(BootSettings, { PGSSLMODE: 'require', DATABASE_URL: BASE, EMBEDDED_PG_PORT: 'abc' });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['EMBEDDED_PG_PORT', 'PGSSLMODE']);
    }
  });

  test('prefer and allow, require and verify-ca, and a value node-pg does not know are refused naming PGSSLMODE and what works', () => {
    assert.match(
      problem({ PGSSLMODE: 'prefer', DATABASE_URL: BASE }),
      /^PGSSLMODE: prefer is not supported: node-pg never falls back between TLS and no TLS; write PGSSLMODE=verify-full/,
    );
    assert.match(problem({ PGSSLMODE: 'allow', DATABASE_URL: BASE }), /^PGSSLMODE: allow is not supported/);
    for (const mode of ['require', 'verify-ca']) {
      const said = problem({ PGSSLMODE: mode, DATABASE_URL: BASE });
      assert.ok(
        said.startsWith(`PGSSLMODE: ${mode} would mean verify-full to node-pg, not what libpq means; write PGSSLMODE=verify-full`),
        said,
      );
      assert.ok(said.includes('PGSSLMODE=no-verify') && said.includes('PGSSLMODE=disable'), said);
      assert.ok(said.includes(`uselibpqcompat=true&sslmode=${mode} in DATABASE_URL`), said);
    }
    assert.equal(
      problem({ PGSSLMODE: 'on', DATABASE_URL: BASE }),
      'PGSSLMODE: must be disable, verify-full or no-verify (node-pg would connect without TLS), not "on"',
    );
  });
});
