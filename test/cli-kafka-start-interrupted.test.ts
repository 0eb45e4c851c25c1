// Ctrl-C (or SIGTERM) while `vault kafka start` waits for the broker it spawned: the broker runs
// detached, so the command's death left it starting, its address never said, for the user to find
// with `vault kafka status`. Now the start stops that broker, says so and exits 130 (143); a second
// signal kills it at once, never leaves it. Before the spawn the command ends at once, as it always did.
// A real broker, held stopped (SIGSTOP) once spawned, so it cannot answer first, whatever the machine's speed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, vault } from '@vault/testkit';
import { formatsRunning } from '../packages/kafka-local/src/leftover-format.ts';
import { isAlive } from '../packages/kafka-local/src/process.ts';
import { statePaths } from '../packages/kafka-local/src/paths.ts';
import { kafkaStart, until } from './kafka-start-child.ts';

/** A fresh state dir and ports; `run` gets them, and whatever it leaves running is stopped. */
async function withHome(run: (env: NodeJS.ProcessEnv, paths: ReturnType<typeof statePaths>) => Promise<number>): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'vault-kafka-interrupted-'));
  const env = { VAULT_HOME: home, KAFKA_PORT: String(await freePort()), KAFKA_CONTROLLER_PORT: String(await freePort()) };
  const paths = statePaths(join(home, 'kafka'));
  let broker = 0;
  try {
    broker = await run(env, paths);
  } finally {
    for (const pid of [...formatsRunning(paths), ...(broker > 0 && isAlive(broker) ? [broker] : [])])
      for (const s of ['SIGCONT', 'SIGKILL'] as const) process.kill(pid, s);
    await vault(['kafka', 'stop'], env);
    rmSync(home, { recursive: true, force: true });
  }
}

/** Nothing runs from the state dir: no pidfile, and `vault kafka status` says not running. */
async function nothingRuns(env: NodeJS.ProcessEnv, paths: ReturnType<typeof statePaths>): Promise<void> {
  assert.equal(existsSync(paths.pidFile), false, 'no pidfile left');
  const status = await vault(['kafka', 'status'], env);
  assert.equal(status.status, 1, status.stdout + status.stderr);
  assert.match(status.stdout, /event=kafka\.not_running/);
}

for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(
    `\`vault kafka start\` given ${signal} while its broker starts: that broker is stopped, said so, exit ${status}; nothing runs`,
    {
      timeout: 180_000,
    },
    () =>
      withHome(async (env, paths) => {
        let broker = 0;
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
        assert.match(
          ended.stderr,
          new RegExp(`^vault kafka start: ${signal}: stopping the broker it was starting \\(pid ${broker}\\); again to kill it$`, 'm'),
        );
        assert.match(ended.stdout, new RegExp(`^app=vault at=warn event=kafka\\.start_interrupted .*pid=${broker} `, 'm'));
        assert.match(
          ended.stderr,
          new RegExp(`^vault kafka: start: ${signal}: stopped the broker it was starting \\(pid ${broker}\\); nothing runs$`, 'm'),
        );
        assert.doesNotMatch(ended.stdout, /KAFKA_BROKERS=/);
        await until('the broker is gone', () => !isAlive(broker));
        await nothingRuns(env, paths);
        return broker;
      }),
  );
}

test(
  '`vault kafka start` given Ctrl-C twice while its broker starts: the second kills that broker at once and the command still ends only once it is gone',
  {
    timeout: 180_000,
  },
  () =>
    withHome(async (env, paths) => {
      let broker = 0;
      const start = kafkaStart(env, (line) => {
        const pid = Number(/event=kafka\.starting .*pid=(\d+)/.exec(line)?.[1] ?? 0);
        if (pid === 0) return;
        broker = pid;
        // Held stopped, the first signal's SIGTERM cannot end it: only the second's kill does, before its grace runs out.
        process.kill(broker, 'SIGSTOP');
        start.child.kill('SIGINT');
      });
      start.child.stderr.on('data', (d: string) => {
        if (d.includes('stopping the broker it was starting')) start.child.kill('SIGINT');
      });
      const ended = await start.ended;
      assert.ok(broker > 0, `the broker was never spawned:\n${ended.stdout}${ended.stderr}`);
      // At the command's end, not some time after: a second signal never leaves the broker behind.
      assert.equal(isAlive(broker), false, `the broker outlived the command:\n${ended.stderr}`);
      assert.equal(ended.code, 130, ended.stdout + ended.stderr);
      assert.match(ended.stderr, new RegExp(`^vault kafka start: SIGINT: killing the broker it was starting \\(pid ${broker}\\)$`, 'm'));
      assert.match(
        ended.stderr,
        new RegExp(`^vault kafka: start: SIGINT: stopped the broker it was starting \\(pid ${broker}\\); nothing runs$`, 'm'),
      );
      await nothingRuns(env, paths);
      return broker;
    }),
);

test('`vault kafka start` given Ctrl-C before it spawns the broker ends at once, saying nothing was started', { timeout: 180_000 }, () =>
  withHome(async (env, paths) => {
    const start = kafkaStart(env, (line) => {
      if (/event=kafka\.config_written /.test(line)) start.child.kill('SIGINT');
    });
    const ended = await start.ended;
    assert.equal(ended.code, 130, ended.stdout + ended.stderr);
    assert.match(ended.stderr, /^vault kafka start: SIGINT: stopped before the broker was started; nothing runs$/m);
    assert.doesNotMatch(ended.stdout, /event=kafka\.starting /);
    await nothingRuns(env, paths);
    return 0;
  }),
);
