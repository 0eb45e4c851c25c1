import { ensureEmbeddedPostgres, openDatabase, type EmbeddedServer, withoutTls } from '@vault/db';
import { ConfigError, databaseBootError, ignoreOutputErrors, loadDotEnv, parseConfig, useDevelopmentAdminToken } from '@vault/runtime';
import { ADMIN_TOKEN_REQUIRED, adminToken, bootVariables, kafkaBrokers } from '@vault/runtime/variables';
import { z } from 'zod';
import { APP_SETTINGS, type VaultSettings } from './vault-settings.ts';
import { APPS, pickApps, type AppEntry } from './apps.ts';
import { CommandError, parseCommand, UsageError, usageOf } from './command.ts';
import type { DemoContext } from './demo.ts';
import { ProcessTree } from './process-tree.ts';
import { cliLog, vaultPath } from './settings.ts';
import { startSpec } from './start-spec.ts';
import { stdoutFailure } from './stdout.ts';
import { checkAppVariables, demoSettings } from './start-variables.ts';

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

const StartSettings = z.object({
  ...bootVariables,
  KAFKA_BROKERS: kafkaBrokers,
  ADMIN_TOKEN: adminToken,
  // Set by npm for the command it runs (`npm start`, `npx vault start`): see stopWithNpm.
  npm_lifecycle_event: z.string().optional(),
});

/** The apps that refuse to boot without ADMIN_TOKEN in a deployment (they answer bearer tokens). */
const NEED_ADMIN_TOKEN = new Set(['metering', 'invoicing']);

/** Whether one of `apps` reads `variable` (it is in that app's own schema). */
const readBy = (apps: AppEntry[], variable: string) =>
  apps.some((a) => variable in APP_SETTINGS[a.name as keyof typeof APP_SETTINGS].shape);

function startSettings(apps: AppEntry[]): z.infer<typeof StartSettings> {
  loadDotEnv();
  // ADMIN_TOKEN and KAFKA_BROKERS only as the chosen apps read them: one that none of
  // them reads (`vault start cc-forms` of compose) is unset here, as it is for them.
  const env = { ...process.env };
  for (const variable of ['ADMIN_TOKEN', 'KAFKA_BROKERS']) if (!readBy(apps, variable)) delete env[variable];
  const settings = parseConfig(StartSettings, env);
  // Checked here as those apps check it: they would start only to fail alike.
  if (settings.DATABASE_URL && !settings.ADMIN_TOKEN && apps.some((a) => NEED_ADMIN_TOKEN.has(a.name))) {
    throw new ConfigError([{ variable: 'ADMIN_TOKEN', message: ADMIN_TOKEN_REQUIRED }]);
  }
  // Every chosen app's variables before anything starts (one line naming each bad one, exit 1).
  checkAppVariables(apps, process.env);
  return settings;
}

function parseStartArgs(args: string[]): StartOptions {
  const { values, positionals } = parseCommand(startSpec, args);
  if (values.demo && values['no-demo']) throw new UsageError('start: give --demo or --no-demo, not both', usageOf(startSpec));
  const apps = pickApps(positionals);
  // The demo needs every app (it puts events through metering and invoices them).
  if (values.demo && apps.length !== APPS.length) {
    throw new UsageError('start: --demo needs all four apps: give no app names', usageOf(startSpec));
  }
  return { apps, demo: values.demo ? true : values['no-demo'] ? false : undefined };
}

/**
 * `vault start [app…] [--demo | --no-demo]`: the apps as one process tree
 * (see ProcessTree). The embedded PostgreSQL (when DATABASE_URL is unset) is
 * started once, here, and handed to every app. With all four apps on an empty
 * database the demo is loaded (by default only on the embedded PostgreSQL,
 * never on a database of your own unless --demo) and a sign-in link for the
 * demo account is printed. Ctrl-C stops everything.
 */
export async function startCommand(args: string[]): Promise<number> {
  const options = parseStartArgs(args);
  // Its reader gone (`vault start | head -1`): stop as for Ctrl-C, with exit 1, so the embedded
  // PostgreSQL is stopped too (an exit at once, exitWhenStdoutFails', left it running, orphaned).
  let outputGone = false;
  let stopTree = (_code: number) => {};
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (outputGone) return;
    outputGone = true;
    ignoreOutputErrors();
    process.stderr.write(`${stdoutFailure('start', err)}: stopping the apps\n`);
    stopTree(1);
  });
  // The chosen apps' variables only: another app's bad variable never stops `vault start` of these.
  const settings = startSettings(options.apps);
  const { apps } = options;
  const env: NodeJS.ProcessEnv = { ...process.env };
  let postgres: EmbeddedServer | undefined;
  if (!settings.DATABASE_URL) {
    // Named as the apps name it (EMBEDDED_PG_PORT, VAULT_HOME): one line, never a file system stack.
    postgres = await ensureEmbeddedPostgres({
      dir: vaultPath(settings, 'postgres'),
      port: settings.EMBEDDED_PG_PORT,
      log: (event, fields) => cliLog.info(event, fields),
    }).catch((err: unknown) => {
      throw new CommandError(databaseBootError(err, settings).message);
    });
    // The embedded server has no TLS: an operator's PGSSLMODE must not reach the apps' connections to it.
    env.DATABASE_URL = withoutTls(postgres.url);
  }
  let developmentToken: { file: string; token: string } | undefined;
  if (!settings.ADMIN_TOKEN && !settings.DATABASE_URL && readBy(apps, 'ADMIN_TOKEN')) {
    // Development: the installation's one admin token, shared by every app that reads
    // one (and every `vault start <app>` of a Procfile); its value stays in the file.
    env.ADMIN_TOKEN = useDevelopmentAdminToken(settings.VAULT_HOME, cliLog);
    developmentToken = { file: vaultPath(settings, 'admin_token'), token: env.ADMIN_TOKEN };
  }
  const bus = readBy(apps, 'KAFKA_BROKERS') && { bus: settings.KAFKA_BROKERS ? 'kafka' : 'embedded' };
  cliLog.info('start', { apps: apps.map((a) => a.name).join(','), ...bus });

  const tree = new ProcessTree(env, cliLog);
  stopTree = (code) => tree.stop(code);
  if (outputGone) tree.stop(1);
  process.on('SIGINT', () => tree.stop(0));
  process.on('SIGTERM', () => tree.stop(0));
  // A closed terminal: stop as for Ctrl-C, so the embedded PostgreSQL (which takes SIGHUP as "reload")
  // stops too; writes to the terminal fail from now on (EIO), and must not end this half-way.
  process.on('SIGHUP', () => {
    ignoreOutputErrors();
    tree.stop(0);
  });
  if (settings.npm_lifecycle_event !== undefined) stopWithNpm(tree);
  const demo = (options.demo ?? !settings.DATABASE_URL) && apps.length === APPS.length;
  const running = bringUp(tree, apps, demo ? env : undefined, developmentToken).catch((err: Error) => {
    if (!tree.stopping) cliLog.error('start.failed', err);
  });
  const code = await tree.done;
  // The demo may still hold the database: PostgreSQL stops only after it has let go.
  await running;
  await postgres?.stop();
  return code;
}

/** How often `vault start` under npm looks whether npm is still there. */
const PARENT_CHECK_MS = 500;

/**
 * Run by npm (`npm start`, `npx vault start`): when npm exits without stopping us (SIGHUP to
 * npm alone, kill -9), or the shell between us does (npm forwards SIGTERM to its `sh -c`),
 * we are reparented: stop as on SIGTERM rather than run on, unseen, holding every port.
 * Only under npm: `vault start &` from a script that then ends keeps running, as before.
 */
function stopWithNpm(tree: ProcessTree): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    // Our output went where npm's did: it may be gone (EPIPE, EIO), which must not end the stop half-way.
    ignoreOutputErrors();
    cliLog.info('start.parent_gone', { parent, reason: 'npm, which ran vault start, exited: stopping the apps' });
    tree.stop(0);
  }, PARENT_CHECK_MS);
  timer.unref();
}

/**
 * Starts the apps, then prints one line per app with its URL. Invoicing starts
 * once metering listens, so after metering's migrations, whose views it reads
 * (it would wait for them at its boot, saying so). With the demo, invoicing
 * starts later still, once phase one has put the simulated weeks through
 * metering: its schedule then finalizes the oldest month whole.
 */
async function bringUp(
  tree: ProcessTree,
  apps: AppEntry[],
  demoEnv: NodeJS.ProcessEnv | undefined,
  developmentToken: { file: string; token: string } | undefined,
): Promise<void> {
  const urls = new Map<string, string>();
  // Checked before anything started (checkAppVariables); since then only DATABASE_URL and the
  // development ADMIN_TOKEN, both made here, were added.
  const settings = demoEnv && demoSettings(demoEnv);
  const launch = async (wave: AppEntry[]) => {
    const started = await Promise.all(wave.map((a) => tree.launch(a)));
    for (const [i, a] of wave.entries()) urls.set(a.name, started[i]!);
  };
  // Invoicing once metering listens (the demo, which starts all four, holds it back longer, below).
  const later = apps.some((a) => a.name === 'metering') ? apps.filter((a) => a.name === 'invoicing') : [];
  await launch(apps.filter((a) => !later.includes(a)));
  let phaseOneFailed = false;
  const failed = () => {
    phaseOneFailed = true;
  };
  // A demo that cannot open its database fails as its first phase does: a half-loaded one may be there.
  const demo = settings && (await reportDemoFailure(tree, () => openDemo(settings, urls, () => tree.stopping), failed));
  if (settings && !demo && phaseOneFailed && !tree.stopping) return stopForDemo(tree);
  try {
    const load = demo && (await reportDemoFailure(tree, () => demo.module.startDemo(demo.ctx), failed));
    if (phaseOneFailed && !tree.stopping) return stopForDemo(tree);
    await launch(later);
    for (const app of apps)
      console.log(`vault           | ${app.name.padEnd(15)} ${urls.get(app.name)!.padEnd(24)} ${SERVES[app.name] ?? ''}`);
    if (developmentToken) console.log(`vault           | ${adminTokenLine(developmentToken, process.stdout.isTTY === true)}`);
    if (!demo) return;
    if (load) await reportDemoFailure(tree, () => demo.module.finishDemo(demo.ctx, load));
    const account = await demo.module.demoAccount(demo.ctx);
    if (account && !tree.stopping)
      console.log(`vault           | sign in to the invoice UI as ${account}: ${await demo.module.demoSignIn(demo.ctx, account)}`);
  } finally {
    await demo?.ctx.db.close();
  }
}

/**
 * Development's admin token at start (api.md: "generated and printed at start in
 * development"): its value on a terminal only; piped or captured (a log drain, CI)
 * only where it is kept, so it never reaches a log.
 */
export function adminTokenLine({ file, token }: { file: string; token: string }, terminal: boolean): string {
  const use = `export ADMIN_TOKEN=$(cat ${file})`;
  return terminal ? `admin token     ${token}   (kept in ${file}: ${use})` : `admin token     kept in ${file}: ${use}`;
}

/**
 * The demo's first phase failed (not a Ctrl-C): invoicing's schedule would finalize the oldest
 * month with only the events in so far, the rest becoming adjustments on a final invoice, so it
 * is not started, and the apps stop. The next start resumes the demo with the same events.
 */
function stopForDemo(tree: ProcessTree): void {
  console.log('vault           | the demo stopped before all its events were in; invoicing was not started, so no month is');
  console.log('vault           | finalized half-loaded. Run `npm start` again to resume it, or `vault start --no-demo` without it.');
  tree.stop(1);
}

/** How long a failed demo step waits for a stop signal on its way (see reportDemoFailure). */
const SIGNAL_GRACE_MS = 250;

/**
 * A demo failure is reported, never a stack; after its first phase the apps keep running (see
 * stopForDemo). A terminal's Ctrl-C reaches the embedded PostgreSQL and the apps as it reaches
 * us: a step may fail on their stop ("terminating connection due to administrator command")
 * before our own SIGINT is handled. So a failure first gives the signal a moment, and one
 * during a stop is that stop (info): the next start resumes the demo.
 */
async function reportDemoFailure<T>(tree: ProcessTree, load: () => Promise<T>, failed?: () => void): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (!tree.stopping) await new Promise((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS));
    if (tree.stopping) cliLog.info('demo.stopped', { reason: 'vault start is stopping; the next start resumes the demo' });
    else cliLog.error('demo.failed', err);
    failed?.();
    return undefined;
  }
}

async function openDemo(settings: VaultSettings, urls: Map<string, string>, stopped: () => boolean) {
  // Loaded only when used: every other command starts without the simulator.
  const module = await import('./demo.ts');
  const db = await openDatabase({ url: settings.DATABASE_URL, home: settings.VAULT_HOME, embeddedPort: settings.EMBEDDED_PG_PORT });
  const ctx: DemoContext = {
    settings,
    db,
    log: cliLog,
    stateFile: vaultPath(settings, 'demo.json'),
    meteringUrl: urls.get('metering')!,
    stopped,
    out: (line: string) => console.log(`vault           | ${line}`),
  };
  return { module, ctx };
}
