// `vault kafka start|stop|status` log as every other line of the vault does (app=, at=, event=): a
// pipeline keyed on `event` dropped `at=info msg="kafka running"`. No broker needed: status of none.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { vault } from '@vault/testkit';

test('`vault kafka status` with no broker: one logfmt line with app=vault and event=kafka.not_running, exit 1', async () => {
  const home = mkdtempSync(join(tmpdir(), 'vault-kafka-status-'));
  try {
    const r = await vault(['kafka', 'status'], { VAULT_HOME: home });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, `app=vault at=info event=kafka.not_running msg="kafka not running" state=${join(home, 'kafka')}\n`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
