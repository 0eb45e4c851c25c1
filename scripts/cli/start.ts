import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ensureEmbeddedPostgres, openDatabase, type EmbeddedServer } from '@vault/db';
import { parseConfig, VaultSettings } from '@vault/runtime';
import { APPS, pickApps, ROOT, UsageError, type AppEntry } from './apps.ts';
import { cliLog, cliSettings, vaultPath } from './settings.ts';

/** What each app is for, on its line of the start banner. */
const SERVES: Record<string, string> = {
  'gateway-sandbox': 'the payment gateway sandbox (Stripe test mode stand-in)',
  metering: 'event intake, stats, rejected events and gaps',
  invoicing: 'invoices and current usage (sign in below), finance exports',
  'cc-forms': 'the card form',
};

interface StartOptions {
  apps: AppEntry[];
  /** true: load the demo on an empty database; undefined: only with the embedded PostgreSQL. */
  demo: boolean | undefined;
}

function parseStartArgs(args: string[]): StartOptions {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { demo: { type: 'boolean' }, 'no-demo': { type: 'boolean' } },
    });
    if (values.demo && values['no-demo']) throw new Error('give --demo or --no-demo, not both');
    return { apps: pickApps(positionals), demo: values.demo ? true : values['no-demo'] ? false : undefined };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`start: ${(err as Error).message}`);
  }
}

/**
 * `vault start [app…] [--demo | --no-demo]`: one process tree like `heroku
 * local`. The embedded PostgreSQL (when DATABASE_URL is unset) is started
 * once, here, and handed to every app; each app's output is prefixed with its
 * name. Once all listen, one line per app gives its URL; with all four apps on
 * an empty database the demo is loaded (by default only on the embedded
 * PostgreSQL, never on a database of your own unless --demo), and a sign-in
 * link for the demo account is printed. Ctrl-C stops all; when one app dies
 * the others are stopped too, so a broken tree is visible.
 */
export async function startCommand(args: string[]): Promise<number> {
  const options = parseStartArgs(args);
  const settings = cliSettings();
  const { apps } = options;
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
  const urls = new Map<string, string>();
  const closed = new Set<ChildProcess>();
  let stopping = false;
  // The demo uses the database: PostgreSQL stops only after it has let go.
  let demoRun: Promise<void> = Promise.resolve();
  let allListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => (allListening = resolve));
  const done = new Promise<number>((resolve) => {
    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      for (const child of children.values()) child.kill('SIGTERM');
      const wait = [...children.values()].map((c) => new Promise((r) => (closed.has(c) ? r(null) : c.once('close', r))));
      void Promise.all(wait).then(async () => {
        await demoRun;
        await postgres?.stop();
        resolve(code);
      });
    };
    process.once('SIGINT', () => stopAll(0));
    process.once('SIGTERM', () => stopAll(0));
    for (const app of apps) {
      const child = run(app, env, (url) => {
        urls.set(app.name, url);
        if (urls.size === apps.length) allListening();
      });
      children.set(app.name, child);
      child.once('close', (code, signal) => {
        closed.add(child);
        cliLog.info('app.exited', { process: app.name, code: code ?? undefined, signal: signal ?? undefined });
        stopAll(stopping ? 0 : 1);
      });
    }
  });

  const ready = await Promise.race([listening.then(() => true), done.then(() => false)]);
  if (ready) {
    for (const app of apps) console.log(`vault           | ${app.name.padEnd(15)} ${urls.get(app.name)!.padEnd(24)} ${SERVES[app.name] ?? ''}`);
    const wantDemo = options.demo ?? !settings.DATABASE_URL;
    if (wantDemo && apps.length === APPS.length) {
      demoRun = demo(parseConfig(VaultSettings, env), urls, () => stopping).catch((err: Error) => {
        // The apps keep running: the demo is a convenience, its failure is reported, not fatal.
        if (!stopping) cliLog.error('demo.failed', err);
      });
      await demoRun;
    }
  }
  return done;
}

async function demo(settings: VaultSettings, urls: Map<string, string>, stopped: () => boolean): Promise<void> {
  // Loaded only when used: every other command starts without the simulator.
  const { demoSignIn, loadDemo } = await import('./demo.ts');
  const db = await openDatabase({ url: settings.DATABASE_URL, home: settings.VAULT_HOME, embeddedPort: settings.EMBEDDED_PG_PORT });
  try {
    const ctx = {
      settings,
      db,
      log: cliLog,
      stateFile: vaultPath(settings, 'demo.json'),
      meteringUrl: urls.get('metering')!,
      stopped,
      out: (line: string) => console.log(`vault           | ${line}`),
    };
    const account = await loadDemo(ctx);
    if (account && !stopped()) {
      console.log(`vault           | sign in to the invoice UI as ${account}: ${await demoSignIn(ctx, account)}`);
    }
  } finally {
    await db.close();
  }
}

function run(app: AppEntry, env: NodeJS.ProcessEnv, onListening: (url: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', app.main], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `${app.name.padEnd(15)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      if (line.includes('event=app.listening')) {
        const url = /\burl=(\S+)/.exec(line)?.[1];
        if (url) onListening(url.replace('127.0.0.1', 'localhost'));
      }
      process.stdout.write(prefix + line + '\n');
    });
  }
  return child;
}
