// An app as a real process under a process manager, as Heroku's dyno manager
// runs one: restarted whenever it exits, whatever the reason, on the same
// port. A test can kill it with SIGKILL and wait for it to come back; an exit
// the test did not cause (a crash during an outage, say) is restarted too, and
// recorded, so the test can report it rather than hide it.
import { startService, type RunningService } from './service.ts';

export interface UnexpectedExit {
  /** ms since the epoch. */
  at: number;
  /** 'boot': it never listened; 'run': it exited while serving. */
  during: 'boot' | 'run';
  how: string;
  /** Its last lines. */
  tail: string[];
}

export interface SupervisedService {
  app: string;
  /** The incarnation that listens now, if any. */
  current(): RunningService | undefined;
  /** Resolves with the listening incarnation (other than `not`), waiting for a restart if need be. */
  ready(timeoutMs?: number, not?: RunningService): Promise<RunningService>;
  /** kill -9 of the current incarnation; resolves once the next one listens. */
  crash(timeoutMs?: number): Promise<RunningService>;
  /** Every incarnation that listened, oldest first, with its output. */
  incarnations: RunningService[];
  /** For each incarnation, ms from its start to its `app.listening` line. */
  bootMs: number[];
  unexpected: UnexpectedExit[];
  /** SIGTERM (SIGKILL after `graceMs`), and no more restarts. */
  stop(graceMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SuperviseOptions {
  /** First wait before restarting after an unexpected exit; doubles up to `maxRestartDelayMs`. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  bootTimeoutMs?: number;
  /** Told about each unexpected exit and restart. */
  log?: (line: string) => void;
}

export function superviseService(app: string, env: Record<string, string>, o: SuperviseOptions = {}): SupervisedService {
  const base = o.restartDelayMs ?? 250;
  const max = o.maxRestartDelayMs ?? 4_000;
  const log = o.log ?? (() => {});
  let stopped = false;
  let current: RunningService | undefined;
  const planned = new Set<RunningService>();
  const incarnations: RunningService[] = [];
  const bootMs: number[] = [];
  const unexpected: UnexpectedExit[] = [];

  const exitOf = (svc: RunningService) =>
    new Promise<string>((resolve) => {
      const how = () => (svc.child.signalCode ? `signal ${svc.child.signalCode}` : `exit status ${svc.child.exitCode}`);
      if (svc.child.exitCode !== null || svc.child.signalCode !== null) resolve(how());
      else svc.child.once('exit', () => resolve(how()));
    });

  const loop = (async () => {
    let delay = base;
    while (!stopped) {
      let svc: RunningService;
      const booting = Date.now();
      try {
        svc = await startService(app, env, o.bootTimeoutMs ?? 60_000);
      } catch (err) {
        if (stopped) break;
        const lines = (err as Error).message.split('\n');
        unexpected.push({ at: Date.now(), during: 'boot', how: lines[0]!, tail: lines.slice(-12) });
        log(
          `${app}: exited during boot; restarting in ${delay} ms (${lines.filter((l) => l.includes('at=error')).slice(-1)[0] ?? lines[0]})`,
        );
        await sleep(delay);
        delay = Math.min(delay * 2, max);
        continue;
      }
      if (stopped) {
        await svc.kill('SIGTERM');
        break;
      }
      incarnations.push(svc);
      bootMs.push(Date.now() - booting);
      current = svc;
      const since = Date.now();
      const how = await exitOf(svc);
      current = undefined;
      if (stopped) break;
      if (planned.delete(svc)) {
        delay = base;
        continue;
      }
      unexpected.push({ at: Date.now(), during: 'run', how, tail: svc.lines.slice(-12) });
      log(`${app}: exited on its own (${how}) after ${((Date.now() - since) / 1000).toFixed(1)} s; restarting in ${delay} ms`);
      if (Date.now() - since > 30_000) delay = base;
      await sleep(delay);
      delay = Math.min(delay * 2, max);
    }
  })();

  const ready = async (timeoutMs = 60_000, not?: RunningService) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (current && current !== not) return current;
      if (stopped) throw new Error(`${app} is stopped`);
      if (Date.now() > deadline) throw new Error(`${app} did not listen again within ${timeoutMs} ms`);
      await sleep(50);
    }
  };

  return {
    app,
    current: () => current,
    ready,
    async crash(timeoutMs) {
      const svc = await ready(timeoutMs);
      planned.add(svc);
      await svc.kill('SIGKILL');
      return ready(timeoutMs, svc);
    },
    incarnations,
    bootMs,
    unexpected,
    async stop(graceMs = 10_000) {
      stopped = true;
      const svc = current;
      if (svc) {
        const gone = svc.kill('SIGTERM');
        if ((await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)])) === false) await svc.kill('SIGKILL');
      }
      await loop;
    },
  };
}
