// The lock file that keeps two processes from initialising or starting the
// embedded PostgreSQL at once (acquireLock), on the real filesystem.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { acquireLock } from '../src/start-lock.ts';

const contender = new URL('./fixtures/lock-contender.ts', import.meta.url).pathname;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-start-lock-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pid that was alive a moment ago and no longer is. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  assert.ok(child.pid);
  return child.pid;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await fn();
  return Date.now() - started;
}

async function aged(path: string): Promise<void> {
  const minuteAgo = new Date(Date.now() - 60_000);
  await utimes(path, minuteAgo, minuteAgo);
}

describe('the embedded PostgreSQL start lock', () => {
  test('processes starting at once never hold it together, also while they all take over a dead holder’s lock', {
    timeout: 120_000,
  }, async () => {
    for (let trial = 0; trial < 4; trial++) {
      const trialDir = await mkdtemp(join(dir, 'race-'));
      const lockPath = join(trialDir, 'start.lock');
      await writeFile(lockPath, `${await deadPid()} 0123abcd`);
      const children: ChildProcess[] = [];
      const results: Promise<string>[] = [];
      const ready: Promise<void>[] = [];
      for (let i = 0; i < 6; i++) {
        const child = spawn(process.execPath, ['--import', 'tsx', contender, lockPath, trialDir, '3'], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(child);
        const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
        ready.push(lines.next().then(({ value }) => assert.equal(value, 'ready')));
        results.push(
          ready[i]!.then(async () => {
            const { value } = await lines.next();
            return String(value);
          }),
        );
      }
      await Promise.all(ready);
      for (const child of children) child.stdin!.write('go\n');
      const reports = (await Promise.all(results)).map((line) => JSON.parse(line) as { overlaps: number });
      assert.deepEqual(
        reports.map((r) => r.overlaps),
        [0, 0, 0, 0, 0, 0],
        `trial ${trial}: two holders at once`,
      );
      assert.deepEqual(await readdir(trialDir), [], 'no lock, temporary or breaker file left behind');
    }
  });

  test('concurrent calls in one process never hold it together', { timeout: 60_000 }, async () => {
    for (let trial = 0; trial < 20; trial++) {
      const lockPath = join(dir, `in-process-${trial}.lock`);
      let holders = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const release = await acquireLock(lockPath);
          holders++;
          most = Math.max(most, holders);
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          holders--;
          await release();
        }),
      );
      assert.equal(most, 1, `trial ${trial}: two holders at once`);
    }
  });

  test('a lock holding our own pid is from an earlier life of it (PID 1 in a container) and is taken over at once', async () => {
    for (const content of [`${process.pid}`, `${process.pid} 0123abcd`]) {
      const lockPath = join(dir, 'own-pid.lock');
      await writeFile(lockPath, content);
      let release: (() => Promise<void>) | undefined;
      const ms = await timed(async () => {
        release = await acquireLock(lockPath);
      });
      assert.ok(ms < 2000, `taken over in ${ms} ms`);
      await release!();
    }
  });

  test('a dead holder’s lock is taken over at once, and the taker is told whose and why', async () => {
    const lockPath = join(dir, 'dead.lock');
    const dead = await deadPid();
    await writeFile(lockPath, `${dead} 0123abcd`);
    let release: (() => Promise<void>) | undefined;
    const told: unknown[] = [];
    const ms = await timed(async () => {
      release = await acquireLock(lockPath, { onTakeOver: (stale) => told.push(stale) });
    });
    assert.ok(ms < 2000, `taken over in ${ms} ms`);
    assert.deepEqual(told, [{ pid: dead, why: 'holder_dead' }]);
    await release!();
  });

  test('a live holder is waited for; its lock left unrefreshed (the pid was reused) is taken over', async () => {
    const lockPath = join(dir, 'live.lock');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      await writeFile(lockPath, `${other.pid} 0123abcd`);
      await assert.rejects(acquireLock(lockPath, { timeoutMs: 300 }), new RegExp(`timed out .*held by pid ${other.pid}\\)`));
      await aged(lockPath);
      const release = await acquireLock(lockPath, { timeoutMs: 2000 });
      await release();
    } finally {
      other.kill();
    }
  });

  test('an empty lock file (the previous version’s, between its create and its write) is taken over only once old', async () => {
    const lockPath = join(dir, 'empty.lock');
    await writeFile(lockPath, '');
    await assert.rejects(acquireLock(lockPath, { timeoutMs: 300 }), /timed out/);
    await aged(lockPath);
    const release = await acquireLock(lockPath, { timeoutMs: 2000 });
    await release();
  });

  test('a holder refreshes its lock, so a long hold is not mistaken for a stale one', async () => {
    const lockPath = join(dir, 'long.lock');
    const release = await acquireLock(lockPath, { staleMs: 300 });
    try {
      await assert.rejects(acquireLock(lockPath, { staleMs: 300, timeoutMs: 1500 }), /timed out/);
    } finally {
      await release();
    }
  });

  test('a release removes its own lock only, never one that took its place', async () => {
    const lockPath = join(dir, 'release.lock');
    const release = await acquireLock(lockPath);
    await writeFile(lockPath, '4242 another');
    await release();
    assert.equal(await readFile(lockPath, 'utf8'), '4242 another');
    await rm(lockPath);
  });
});
