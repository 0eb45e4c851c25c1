// `vault kafka start` ended early (SIGKILL, as an OOM kill or a closed terminal ends it) while it
// formats the broker's storage: it leaves its start.lock behind, and its StorageTool JVM formatting
// on. The next start took the dead start's lock over in silence and formatted beside the leftover
// with another cluster id: it failed ("Invalid cluster.id in .../meta.properties"), or two formats
// wrote the one storage at once. Now it says it took the lock over, waits for the leftover format,
// whose storage stands, and starts the broker. A real broker; the leftover format is held stopped
// (SIGSTOP) until the second start has chosen, so the order does not depend on the machine's speed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, vault } from '@vault/testkit';
import { formatsRunning } from '../packages/kafka-local/src/leftover-format.ts';
import { statePaths } from '../packages/kafka-local/src/paths.ts';
import { kafkaStart, until } from './kafka-start-child.ts';

test('`vault kafka start` killed while it formats the storage: the next start takes its lock over, saying so, waits for that format, and starts the broker', {
  timeout: 180_000,
}, async () => {
  const home = mkdtempSync(join(tmpdir(), 'vault-kafka-killed-'));
  const port = await freePort();
  const env = { VAULT_HOME: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()) };
  const paths = statePaths(join(home, 'kafka'));
  const lock = join(paths.dir, 'start.lock');
  let leftover = 0;
  try {
    let clusterId = '';
    const first = kafkaStart(env, (line) => {
      clusterId ||= /event=kafka\.storage_formatting .*cluster_id=(\S+)/.exec(line)?.[1] ?? '';
    });
    // Killed once its StorageTool runs (it says so just before it spawns it), the StorageTool held stopped first.
    await until('the first start formats', () => clusterId !== '', 120_000);
    await until('its StorageTool runs', () => formatsRunning(paths).length === 1);
    leftover = formatsRunning(paths)[0]!;
    process.kill(leftover, 'SIGSTOP');
    first.child.kill('SIGKILL');
    const killed = await first.ended;
    assert.equal(killed.signal, 'SIGKILL', `the first start ended by itself:\n${killed.stdout}${killed.stderr}`);
    assert.ok(existsSync(lock), 'the killed start left its lock behind');
    assert.deepEqual(formatsRunning(paths), [leftover], 'its StorageTool outlives it');

    // Let the leftover go on once the second start has chosen: to wait for it, or to format beside it.
    const second = kafkaStart(env, (line) => {
      if (/event=kafka\.(leftover_format_waiting|storage_formatting) /.test(line)) process.kill(leftover, 'SIGCONT');
    });
    const again = await second.ended;
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      new RegExp(
        `^app=vault at=warn event=kafka\\.start_lock_taken_over msg="took over the lock of a start that ended early" pid=${first.child.pid} why=holder_dead lock=${lock}$`,
        'm',
      ),
    );
    assert.match(again.stdout, new RegExp(`^app=vault at=warn event=kafka\\.leftover_format_waiting .*pids=${leftover} `, 'm'));
    assert.doesNotMatch(again.stdout, /event=kafka\.storage_formatting/, 'formatted once, by the killed start');
    assert.match(readFileSync(join(paths.dataDir, 'meta.properties'), 'utf8'), new RegExp(`^cluster\\.id=${clusterId}$`, 'm'));
    assert.match(again.stdout, new RegExp(`^KAFKA_BROKERS=127\\.0\\.0\\.1:${port}$`, 'm'));
    assert.equal(existsSync(lock), false, 'its own lock released');
    const status = await vault(['kafka', 'status'], env);
    assert.equal(status.status, 0, status.stdout + status.stderr);
  } finally {
    // A leftover still formatting (the test failed before it was let go), never a pid reused since.
    for (const pid of formatsRunning(paths)) for (const signal of ['SIGCONT', 'SIGKILL'] as const) process.kill(pid, signal);
    await vault(['kafka', 'stop'], env);
    rmSync(home, { recursive: true, force: true });
  }
});
