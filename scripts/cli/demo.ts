import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { BillingEvent } from '@vault/contracts';
import type { Database } from '@vault/db';
import { chargeCommand, finalizeCommand, runTokenCreate } from '@vault/invoicing/cli';
import type { Logger } from '@vault/runtime';
import type { VaultSettings } from './vault-settings.ts';
import { demoWindow, simulatePlatform } from '@vault/simulator';
import { addDemoCards } from './demo-cards.ts';
import { waitForMetering } from './metering-stats.ts';
import { withPublishTarget } from './bus-publish.ts';
import { publishEvents } from './simulate.ts';

/** Where the demo's progress is kept, so an interrupted load resumes with the same events. */
const DemoState = z.object({ state: z.enum(['loading', 'loaded']), now: z.iso.datetime({ offset: true }), account: z.string().optional() });
export type DemoState = z.infer<typeof DemoState>;

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

/** The demo's state; a file that is not one (not JSON, another shape) is as none. */
export function readState(file: string): DemoState | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = DemoState.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** Written whole, then renamed into place: a kill mid-write leaves the old state, never half of one. */
export function writeState(file: string, state: DemoState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state)}\n`);
  renameSync(temporary, file);
}

async function isEmpty(db: Database): Promise<boolean> {
  const used = async (table: string) => {
    // Invoicing may not have created its tables yet: the demo starts it last.
    const { rows } = await db.pool.query<{ present: string | null }>('select to_regclass($1)::text as present', [table]);
    if (!rows[0]!.present) return false;
    return (await db.pool.query(`select 1 from ${table} limit 1`)).rowCount! > 0;
  };
  return !(await used('metering.events')) && !(await used('invoicing.invoices'));
}

class DemoStopped extends Error {}

/** The demo being loaded: what phase two needs from phase one. */
export interface DemoLoad {
  state: DemoState;
  finalizable: string;
  late: BillingEvent[];
  demoAccount: string;
}

function step(ctx: DemoContext, name: string): void {
  if (ctx.stopped()) throw new DemoStopped(name);
  ctx.log.info('demo.step', { step: name });
}

async function publish(ctx: DemoContext, events: readonly BillingEvent[], label: string): Promise<void> {
  const summary = await withPublishTarget(ctx.settings, 'vault-demo', (target) =>
    publishEvents(events, { ...target, label, log: ctx.log }),
  );
  if (summary.rejected.length > 0)
    throw new Error(`${label}: ${summary.rejected.length} rejected, the first: ${summary.rejected[0]!.reason}`);
  await waitForMetering(ctx.meteringUrl, ctx.settings.ADMIN_TOKEN!, ctx.stopped);
}

/**
 * Phase one, before invoicing starts (so that its schedule finalizes the
 * oldest month only once metering has applied all of it): when the database
 * is empty or a load was interrupted, a few weeks of simulated platform events
 * through the bus, and cards on file. Every step is idempotent, so a load
 * killed at any instant resumes from the top with the same events. Undefined
 * when there is nothing to load (loaded before, or someone else's data).
 */
export async function startDemo(ctx: DemoContext): Promise<DemoLoad | undefined> {
  let state = readState(ctx.stateFile);
  if (state?.state === 'loaded') return undefined;
  if (!state && !(await isEmpty(ctx.db))) {
    ctx.log.info('demo.skipped', { reason: 'the database already holds events or invoices' });
    return undefined;
  }
  state ??= { state: 'loading', now: DateTime.utc().toISO() };
  writeState(ctx.stateFile, state);
  try {
    const window = demoWindow(DateTime.fromISO(state.now, { zone: 'utc' }), ctx.settings.INVOICE_GRACE_HOURS);
    const sim = simulatePlatform({ seed: 1, from: window.from, to: window.to, apps: 36, accounts: 8 });
    ctx.out(`demo: ${sim.events.length} events for 36 apps of 8 accounts, ${window.from.toISODate()} to now`);
    step(ctx, 'publish');
    await publish(ctx, sim.events, 'demo events');
    step(ctx, 'cards');
    await addDemoCards(ctx, sim.accounts, sim.demoAccount);
    return { state, finalizable: window.finalizable, late: sim.late, demoAccount: sim.demoAccount };
  } catch (err) {
    if (err instanceof DemoStopped) return undefined;
    throw err;
  }
}

/**
 * Phase two, with invoicing running: the oldest month finalized (its
 * schedule may have done it already) and charged, then the late events, so
 * the current invoice carries an adjustment.
 */
export async function finishDemo(ctx: DemoContext, load: DemoLoad): Promise<void> {
  try {
    step(ctx, 'finalize');
    const command = { pool: ctx.db.pool, settings: ctx.settings, log: ctx.log, out: (l: string) => ctx.out(`demo: ${l}`) };
    if ((await finalizeCommand(['--period', load.finalizable], command)) !== 0) throw new Error(`finalizing ${load.finalizable} failed`);
    step(ctx, 'charge');
    await chargeCommand([], command);
    step(ctx, 'late events');
    await publish(ctx, load.late, 'late events');
    writeState(ctx.stateFile, { ...load.state, state: 'loaded', account: load.demoAccount });
    ctx.log.info('demo.loaded', { account: load.demoAccount });
  } catch (err) {
    if (!(err instanceof DemoStopped)) throw err;
  }
}

/** The demo account once the demo is loaded. */
export function demoAccount(stateFile: string): string | undefined {
  const state = readState(stateFile);
  return state?.state === 'loaded' ? state.account : undefined;
}

/** A fresh sign-in link for the demo account's customer. */
export async function demoSignIn(ctx: Pick<DemoContext, 'db' | 'settings'>, account: string): Promise<string> {
  const created = await runTokenCreate(ctx.db.pool, { kind: 'account', accountId: account }, ctx.settings);
  return created.signInUrl!;
}
