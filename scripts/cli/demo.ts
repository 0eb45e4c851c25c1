import { existsSync, readFileSync } from 'node:fs';
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

/** The demo's progress, so an interrupted load resumes with the same events. */
const DemoState = z.object({ state: z.enum(['loading', 'loaded']), now: z.iso.datetime({ offset: true }), account: z.string().optional() });
export type DemoState = z.infer<typeof DemoState>;

export interface DemoContext {
  settings: VaultSettings;
  db: Database;
  log: Logger;
  /** Where an earlier release kept the demo's state (VAULT_HOME/demo.json): read once, to take it over. */
  stateFile: string;
  meteringUrl: string;
  /** Stops the load between steps once Ctrl-C was pressed. */
  stopped: () => boolean;
  out: (line: string) => void;
}

/**
 * The demo's state lives in the database it describes, written in one
 * statement: a state file beside it (VAULT_HOME/demo.json, before) outlived a
 * database deleted or switched, so a "loaded" one skipped the demo on an empty
 * database and linked to an account it did not hold, and a "loading" one loaded
 * into a database of your own.
 */
const STATE_TABLE = `create schema if not exists vault_demo;
  create table if not exists vault_demo.state (
    only_row boolean primary key default true check (only_row),
    state    text not null check (state in ('loading', 'loaded')),
    now      timestamptz not null,
    account  text
  )`;

/** The state's table; two creating it at once (two starts) race in PostgreSQL's catalog: the loser's error is no error. */
async function ensureStateTable(db: Pick<Database, 'pool'>): Promise<void> {
  await db.pool.query(STATE_TABLE).catch((err: { code?: string }) => {
    if (!['23505', '42P06', '42P07'].includes(err.code ?? '')) throw err;
  });
}

/** The demo's state in this database; one from VAULT_HOME/demo.json of an earlier release is taken over once. */
export async function readState(db: Pick<Database, 'pool'>, legacyFile?: string): Promise<DemoState | undefined> {
  await ensureStateTable(db);
  const { rows } = await db.pool.query<{ state: 'loading' | 'loaded'; now: Date; account: string | null }>(
    'select state, now, account from vault_demo.state',
  );
  const row = rows[0];
  if (row) return { state: row.state, now: row.now.toISOString(), ...(row.account === null ? {} : { account: row.account }) };
  // A demo loaded by an earlier release is this database's when the database holds it: its account's apps.
  const legacy = legacyFile === undefined ? undefined : legacyState(legacyFile);
  if (legacy?.state !== 'loaded' || legacy.account === undefined || !(await holdsAccount(db, legacy.account))) return undefined;
  await writeState(db, legacy);
  return legacy;
}

function legacyState(file: string): DemoState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = DemoState.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(db: Pick<Database, 'pool'>, state: DemoState): Promise<void> {
  await ensureStateTable(db);
  await db.pool.query(
    `insert into vault_demo.state (state, now, account) values ($1, $2, $3)
     on conflict (only_row) do update set state = excluded.state, now = excluded.now, account = excluded.account`,
    [state.state, state.now, state.account ?? null],
  );
}

/** Whether metering knows the account (it owns an app here). */
async function holdsAccount(db: Pick<Database, 'pool'>, account: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ present: string | null }>(`select to_regclass('metering.app_ownership')::text as present`);
  if (!rows[0]!.present) return false;
  return (await db.pool.query('select 1 from metering.app_ownership where account_id = $1 limit 1', [account])).rowCount! > 0;
}

async function isEmpty(db: Pick<Database, 'pool'>): Promise<boolean> {
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
  let first: string | undefined;
  const summary = await withPublishTarget(ctx.settings, 'vault-demo', (target) =>
    publishEvents(events, { ...target, label, log: ctx.log, onRejected: (rejected) => void (first ??= rejected[0]?.reason) }),
  );
  if (summary.rejected > 0) throw new Error(`${label}: ${summary.rejected} rejected, the first: ${first}`);
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
  let state = await readState(ctx.db, ctx.stateFile);
  if (state?.state === 'loaded') return undefined;
  if (!state && !(await isEmpty(ctx.db))) {
    ctx.log.info('demo.skipped', { reason: 'the database already holds events or invoices' });
    return undefined;
  }
  state ??= { state: 'loading', now: DateTime.utc().toISO() };
  await writeState(ctx.db, state);
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
    await writeState(ctx.db, { ...load.state, state: 'loaded', account: load.demoAccount });
    ctx.log.info('demo.loaded', { account: load.demoAccount });
  } catch (err) {
    if (!(err instanceof DemoStopped)) throw err;
  }
}

/** The demo account once the demo is loaded in this database. */
export async function demoAccount(ctx: Pick<DemoContext, 'db' | 'stateFile'>): Promise<string | undefined> {
  const state = await readState(ctx.db, ctx.stateFile);
  return state?.state === 'loaded' ? state.account : undefined;
}

/**
 * How long the token behind each start's sign-in link lives: its link works for 15 minutes
 * and the session it opens for 12 hours (ended with its token), so a day covers both, and
 * the tokens of many starts never pile up as live credentials nobody holds.
 */
export const DEMO_TOKEN_SECONDS = 24 * 60 * 60;

/** A fresh sign-in link for the demo account's customer, on a token that expires (DEMO_TOKEN_SECONDS). */
export async function demoSignIn(
  ctx: { db: Pick<Database, 'pool'>; settings: Pick<VaultSettings, 'INVOICING_WEB_URL' | 'INVOICING_PORT'> },
  account: string,
): Promise<string> {
  const grant = { kind: 'account', accountId: account } as const;
  const created = await runTokenCreate(ctx.db.pool, grant, ctx.settings, { expiresInSeconds: DEMO_TOKEN_SECONDS });
  return created.signInUrl!;
}
