// The demo's state file (VAULT_HOME/demo.json): read back whole or not at all.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readState, writeState } from '../scripts/cli/demo.ts';

describe("the demo's state file", () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('written, it reads back; written again, no temporary file is left beside it', () => {
    const file = join(dir, 'demo.json');
    writeState(file, { state: 'loading', now: '2026-11-23T12:00:00.000Z' });
    writeState(file, { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' });
    assert.deepEqual(readState(file), { state: 'loaded', now: '2026-11-23T12:00:00.000Z', account: 'acct-demo' });
    assert.deepEqual(readdirSync(dir), ['demo.json']);
  });

  test('a file left half-written (not JSON) or of another shape is as none, never a JSON.parse error', () => {
    const file = join(dir, 'half.json');
    writeFileSync(file, '{"state":"load');
    assert.equal(readState(file), undefined);
    writeFileSync(file, '{"state":"finished"}');
    assert.equal(readState(file), undefined);
    assert.equal(readState(join(dir, 'missing.json')), undefined);
  });
});
