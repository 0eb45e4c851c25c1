// Ctrl-C (or SIGTERM) while `vault kafka start` waits for the broker it spawned: the broker runs
// detached, so the command's death left it starting, its address never said, for the user to find
// with `vault kafka status`. Now the start stops that broker, says so and exits 130 (143). A real
// broker; held stopped (SIGSTOP) once spawned, so it cannot answer before the signal, whatever the machine's speed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, vault } from '@vault/testkit';
import { isAlive } from '../packages/kafka-local/src/process.ts';
import { statePaths } from '../packages/kafka-local/src/paths.ts';
import { kafkaStart, until } from './kafka-start-child.ts';

for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`\`vault kafka start\` given ${signal} while its broker starts: that broker is stopped, said so, exit ${status}; nothing runs`, {
    timeout: 180_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'vault-kafka-interrupted-'));
    const env = { VAULT_HOME: home, KAFKA_PORT: String(await freePort()), KAFKA_CONTROLLER_PORT: String(await freePort()) };
    const paths = statePaths(join(home, 'kafka'));
    let broker = 0;
    try {
      const start = kafkaStart(env, (line) => {
        const pid = Number(/event=kafka\.starting .*pid=(\d+)/.exec(line)?.[1] ?? 0);
        if (pid === 0) return;
        broker = pid;
        process.kill(broker, 'SIGSTOP');
        start.child.kill(signal);
      });
      const ended = await start.ended;
      assert.ok(broker > 0, `the broker was never spawned:\n${ended.stdout}${ended.stderr}`);
      assert.equal(ended.code, status, ended.stdout + ended.stderr);
      assert.match(ended.stdout, new RegExp(`^app=vault at=warn event=kafka\\.start_interrupted .*pid=${broker} `, 'm'));
      assert.match(
        ended.stderr,
        new RegExp(`^vault kafka: start: ${signal}: stopped the broker it was starting \\(pid ${broker}\\); nothing runs$`, 'm'),
      );
      assert.doesNotMatch(ended.stdout, /KAFKA_BROKERS=/);
      await until('the broker is gone', () => !isAlive(broker));
      assert.equal(existsSync(paths.pidFile), false, 'no pidfile left');
      const status2 = await vault(['kafka', 'status'], env);
      assert.equal(status2.status, 1, status2.stdout + status2.stderr);
      assert.match(status2.stdout, /event=kafka\.not_running/);
    } finally {
      if (broker > 0 && isAlive(broker)) for (const s of ['SIGCONT', 'SIGKILL'] as const) process.kill(broker, s);
      await vault(['kafka', 'stop'], env);
      rmSync(home, { recursive: true, force: true });
    }
  });
}
