import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { createBus } from '@vault/bus';
import type { Database } from '@vault/db';
import { chargeCommand, finalizeCommand, runTokenCreate } from '@vault/invoicing/cli';
import type { Logger, VaultSettings } from '@vault/runtime';
import { demoWindow, simulatePlatform } from '@vault/simulator';
import { addDemoCards } from './demo-cards.ts';
import { waitForMetering } from './metering-stats.ts';
import { publishEvents } from './simulate.ts';

/** Where the demo's progress is kept, so an interrupted load resumes with the same events. */
const DemoState = z.object({ state: z.enum(['loading', 'loaded']), now: z.iso.datetime({ offset: true }), account: z.string().optional() });
type DemoState = z.infer<typeof DemoState>;

export interface DemoContext {
  settings: VaultSettings;
  db: Database;
  log: Logger;
  /** The file that records the demo's state (under VAULT_HOME). */
  stateFile: string;
  meteringUrl: string;
  /** Stops the load between steps once Ctrl-C was pressed. */
  stopped: () => boolean;
  out: (line: string) => void;
}

function readState(file: string): DemoState | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = DemoState.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

function writeState(file: string, state: DemoState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state)}\n`);
}

async function isEmpty(db: Database): Promise<boolean> {
  const { rows } = await db.pool.query<{ used: boolean }>(
    'select exists (select 1 from metering.events) or exists (select 1 from invoicing.invoices) as used',
  );
  return !rows[0]!.used;
}

class DemoStopped extends Error {}

/**
 * Loads the demo when the database is empty (or a load was interrupted): a
 * few weeks of simulated platform events through the bus, cards on file,
 * the oldest month finalized and charged, then a late event so the current
 * invoice carries an adjustment. Every step is idempotent, so a load killed
 * at any instant resumes from the top with the same events. Returns the demo
 * account, or undefined when the database already held other data.
 */
export async function loadDemo(ctx: DemoContext): Promise<string | undefined> {
  let state = readState(ctx.stateFile);
  if (state?.state === 'loaded') return state.account;
  if (!state && !(await isEmpty(ctx.db))) {
    ctx.log.info('demo.skipped', { reason: 'the database already holds events or invoices' });
    return undefined;
  }
  state ??= { state: 'loading', now: DateTime.utc().toISO() };
  writeState(ctx.stateFile, state);
  const step = (name: string) => {
    if (ctx.stopped()) throw new DemoStopped(name);
    ctx.log.info('demo.step', { step: name });
  };
  try {
    const now = DateTime.fromISO(state.now, { zone: 'utc' });
    const window = demoWindow(now, ctx.settings.INVOICE_GRACE_HOURS);
    const sim = simulatePlatform({ seed: 1, from: window.from, to: window.to, apps: 36, accounts: 8 });
    ctx.out(`demo: ${sim.events.length} events for 36 apps of 8 accounts, ${window.from.toISODate()} to now`);

    step('publish');
    const bus = await createBus({ kafkaBrokers: ctx.settings.KAFKA_BROKERS, clientId: 'vault-demo', pool: ctx.db.pool, databaseUrl: ctx.db.url });
    try {
      const topic = ctx.settings.BILLING_EVENTS_TOPIC;
      await publishEvents(sim.events, { bus, pool: ctx.db.pool, topic, label: 'demo events' });
      step('usage');
      await waitForMetering(ctx.meteringUrl, ctx.settings.ADMIN_TOKEN!, ctx.stopped);

      step('cards');
      await addDemoCards(ctx, sim.accounts, sim.demoAccount);

      step('finalize');
      const command = { pool: ctx.db.pool, settings: ctx.settings, log: ctx.log, out: (l: string) => ctx.out(`demo: ${l}`) };
      if ((await finalizeCommand(['--period', window.finalizable], command)) !== 0) throw new Error(`finalizing ${window.finalizable} failed`);
      step('charge');
      await chargeCommand([], command);

      step('late events');
      await publishEvents(sim.late, { bus, pool: ctx.db.pool, topic, label: 'late events' });
      await waitForMetering(ctx.meteringUrl, ctx.settings.ADMIN_TOKEN!, ctx.stopped);
    } finally {
      await bus.close();
    }
    writeState(ctx.stateFile, { ...state, state: 'loaded', account: sim.demoAccount });
    ctx.log.info('demo.loaded', { account: sim.demoAccount, events: sim.events.length + sim.late.length });
    return sim.demoAccount;
  } catch (err) {
    if (err instanceof DemoStopped) return undefined;
    throw err;
  }
}

/** A fresh sign-in link for the demo account's customer. */
export async function demoSignIn(ctx: Pick<DemoContext, 'db' | 'settings'>, account: string): Promise<string> {
  const created = await runTokenCreate(ctx.db.pool, { kind: 'account', accountId: account }, ctx.settings.INVOICING_PORT);
  return created.signInUrl!;
}
