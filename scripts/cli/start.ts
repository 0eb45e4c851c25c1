import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ensureEmbeddedPostgres, type EmbeddedServer } from '@vault/db';
import { pickApps, ROOT, type AppEntry } from './apps.ts';
import { cliLog, cliSettings, vaultPath } from './settings.ts';

/**
 * `vault start [app…]`: one process tree like `heroku local`. The embedded
 * PostgreSQL (when DATABASE_URL is unset) is started once, here, and handed to
 * every app; each app's output is prefixed with its name. Ctrl-C stops all.
 * When one app dies the others are stopped too, so a broken tree is visible.
 */
export async function startCommand(args: string[]): Promise<number> {
  const settings = cliSettings();
  const apps = pickApps(args);
  const env: NodeJS.ProcessEnv = { ...process.env };
  let postgres: EmbeddedServer | undefined;
  if (!settings.DATABASE_URL) {
    postgres = await ensureEmbeddedPostgres({
      dir: vaultPath(settings, 'postgres'),
      port: settings.EMBEDDED_PG_PORT,
      log: (event, fields) => cliLog.info(event, fields),
    });
    env.DATABASE_URL = postgres.url;
  }
  if (!settings.ADMIN_TOKEN) {
    env.ADMIN_TOKEN = `dev_${randomBytes(18).toString('base64url')}`;
    cliLog.info('admin_token.generated', { admin_token: env.ADMIN_TOKEN });
  }
  cliLog.info('start', { apps: apps.map((a) => a.name).join(','), bus: settings.KAFKA_BROKERS ? 'kafka' : 'embedded' });

  const children = new Map<string, ChildProcess>();
  const closed = new Set<ChildProcess>();
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      for (const child of children.values()) child.kill('SIGTERM');
      const wait = [...children.values()].map(
        (c) => new Promise((r) => (closed.has(c) ? r(null) : c.once('close', r))),
      );
      void Promise.all(wait).then(async () => {
        await postgres?.stop();
        resolve(code);
      });
    };
    process.once('SIGINT', () => stopAll(0));
    process.once('SIGTERM', () => stopAll(0));
    for (const app of apps) {
      const child = run(app, env);
      children.set(app.name, child);
      child.once('close', (code, signal) => {
        closed.add(child);
        cliLog.info('app.exited', { process: app.name, code: code ?? undefined, signal: signal ?? undefined });
        stopAll(stopping ? 0 : 1);
      });
    }
  });
  return done;
}

function run(app: AppEntry, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', app.main], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `${app.name.padEnd(15)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(prefix + line + '\n'));
  }
  return child;
}
