// `.env` fills in for development; one that cannot be read is said in one line
// naming the file (the apps' boot.failed, the CLI's error), never a stack.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { loadDotEnv } from '../src/env.ts';

const vault = fileURLToPath(new URL('../../../bin/vault.js', import.meta.url));

describe('.env', () => {
  test('a file is read; none is nothing; a directory is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dotenv-'));
    assert.equal(loadDotEnv(join(dir, 'missing.env')), false);
    writeFileSync(join(dir, 'ok.env'), 'VAULT_DOTENV_TEST_VALUE=from-file\n');
    assert.equal(loadDotEnv(join(dir, 'ok.env')), true);
    assert.equal(process.env.VAULT_DOTENV_TEST_VALUE, 'from-file');
    mkdirSync(join(dir, 'dir.env'));
    assert.throws(() => loadDotEnv(join(dir, 'dir.env')), /^Error: \.env \(.*dir\.env\) cannot be read: it is a directory, not a file$/);
  });

  test('the vault command in a directory whose .env is a directory: one line naming it, exit 1, no stack', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dotenv-cli-'));
    mkdirSync(join(cwd, '.env'));
    const run = spawnSync(process.execPath, [vault, 'token', 'list'], { cwd, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /\.env \(.*\.env\) cannot be read: it is a directory/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack');
  });
});
