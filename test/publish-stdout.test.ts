// `vault publish big.ndjson | head -1`: the progress lines go to stderr and the summary alone to
// stdout, so a reader that quits after one line reads the summary and ends nothing part-way (the
// first progress line on stdout used to be what head took, and the next write ended the publish
// with "stdout was closed", exit 1). A real shell pipe, on the embedded bus of a fresh database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, uniqueName, type TestDatabase } from '@vault/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Past the first progress line (every 50,000 lines). */
const LINES = 60_000;

describe('`vault publish … | head -1`', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await freshDatabase('publish_stdout');
    dir = mkdtempSync(join(tmpdir(), 'vault-publish-stdout-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  test('every line is published, head reads the summary, vault exits 0; the progress line is on stderr', { timeout: 300_000 }, async () => {
    let text = '';
    for (let i = 0; i < LINES; i++) {
      text += `{"specversion":"1.0","id":"head-${i}","source":"app-registry","type":"app.owner_changed","time":"2026-10-01T00:00:00Z","subject":"head-app-${i}","sequence":1,"data":{"app_id":"head-app-${i}","account_id":"acct-head"}}\n`;
    }
    const path = join(dir, 'big.ndjson');
    writeFileSync(path, text);
    const topic = uniqueName('head');
    // vault's own exit status, as `set -o pipefail` would see it, after head's line.
    const script = `"$NODE" bin/vault.js publish "$EVENTS" 2>"$ERR" | head -1; echo "vault_status=\${PIPESTATUS[0]}"`;
    const errFile = join(dir, 'stderr.txt');
    const child = spawn('bash', ['-c', script], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE: process.execPath,
        EVENTS: path,
        ERR: errFile,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: undefined,
        BILLING_EVENTS_TOPIC: topic,
      },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    await new Promise((resolve) => child.on('close', resolve));
    const stderr = readFileSync(errFile, 'utf8');

    assert.match(stdout, /vault_status=0$/m, stderr);
    assert.match(
      stdout,
      new RegExp(`^published ${LINES} lines to \\S+ \\(embedded bus\\): ${LINES} accepted, 0 duplicate, 0 rejected in `),
      stderr,
    );
    assert.match(stderr, /event=publish\.progress lines=5\d{4} /);
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from bus.messages where topic = $1', [topic]);
    assert.equal(rows[0]!.n, LINES);
  });
});
