import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '@vault/runtime';
import { ROOT, type AppEntry } from './apps.ts';

/**
 * The apps as child processes, like `heroku local` runs a Procfile: each
 * line they print goes to stdout prefixed with the app's name. When one app
 * dies the others are stopped too, so a broken tree is visible, and `done`
 * resolves with 1; `stop(0)` (Ctrl-C) stops them all and resolves it with 0.
 */
export class ProcessTree {
  private readonly children = new Map<string, ChildProcess>();
  private readonly closed = new Set<ChildProcess>();
  private stopped = false;
  private finish: (code: number) => void = () => {};
  readonly done = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  get stopping(): boolean {
    return this.stopped;
  }

  /** Starts the app; resolves with its URL once it listens, rejects if it exits first. */
  launch(app: AppEntry): Promise<string> {
    if (this.stopped) return Promise.reject(new Error(`not starting ${app.name}: stopping`));
    const child = spawn(process.execPath, [...app.nodeFlags, '--import', 'tsx', app.main], {
      cwd: ROOT,
      env: this.env,
      // The IPC channel is how the app learns that this process died without stopping it (runApp).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.children.set(app.name, child);
    const prefix = `${app.name.padEnd(15)} | `;
    return new Promise((resolve, reject) => {
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          if (line.includes('event=app.listening')) {
            const url = /\burl=(\S+)/.exec(line)?.[1];
            if (url) resolve(url.replace('127.0.0.1', 'localhost'));
          }
          process.stdout.write(prefix + line + '\n');
        });
      }
      child.once('close', (code, signal) => {
        this.closed.add(child);
        this.log.info('app.exited', { process: app.name, code: code ?? undefined, signal: signal ?? undefined });
        // No restart: say which app ended the tree, and why, before the others' exits.
        if (!this.stopped) {
          this.log.warn('tree.stopping', {
            reason: `${app.name} exited ${signal ? `on ${signal}` : `with code ${code}`}; the other apps are stopped (its last lines are above)`,
          });
        }
        reject(new Error(`${app.name} exited`));
        this.stop(this.stopped ? 0 : 1);
      });
    });
  }

  stop(code: number): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const child of this.children.values()) child.kill('SIGTERM');
    const exits = [...this.children.values()].map((c) => new Promise((r) => (this.closed.has(c) ? r(null) : c.once('close', r))));
    void Promise.all(exits).then(() => this.finish(code));
  }
}
