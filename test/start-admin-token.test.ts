// api.md: in development the admin token is "generated and printed at start".
// `vault start` prints it on a terminal; piped or captured (a log drain, CI) it
// says only where it is kept and how to use it, so the value never reaches a log.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminTokenLine } from '../scripts/cli/start.ts';

const token = { file: '.vault/admin_token', token: 'dev_secret-value-0123456789abcdef0123456789' };

describe("vault start's line for development's admin token", () => {
  test('on a terminal: the token itself, where it is kept, and how to export it', () => {
    const line = adminTokenLine(token, true);
    assert.ok(line.includes(token.token));
    assert.match(line, /kept in \.vault\/admin_token: export ADMIN_TOKEN=\$\(cat \.vault\/admin_token\)/);
  });

  test('not a terminal: never the value, only the file and how to export it', () => {
    const line = adminTokenLine(token, false);
    assert.ok(!line.includes(token.token));
    assert.match(line, /kept in \.vault\/admin_token: export ADMIN_TOKEN=\$\(cat \.vault\/admin_token\)/);
  });
});
