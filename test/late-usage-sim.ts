// The machinery of test/late-usage-converges.test.ts: a database of its own
// per history (copied from a migrated template), arrivals through metering's
// consumer dated to their simulated instant, finalize runs at theirs, and the
// check finance relies on. Why the dating is what production derives: see the
// test file's header.
import assert from 'node:assert/strict';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { computeDrafts } from '../services/invoicing/src/billing/compute-drafts.ts';
import { loadPriceBook } from '../services/invoicing/src/billing/price-book-file.ts';
import { createBilling } from '../services/invoicing/src/billing/service.ts';
import { foldAllUsageChanges } from '../services/invoicing/src/billing/usage-days.ts';
import { parsePeriod } from '../services/invoicing/src/domain/period.ts';
import { billingDatabase } from '../services/invoicing/test/seed.ts';
import { deriveStored } from '../services/metering/src/consumer/derive-usage.ts';
import { applyRaw } from '../services/metering/test/harness.ts';
import { type Arrival, GRACE_HOURS, type History, MONTHS, raw } from './late-usage-world.ts';

const prices = loadPriceBook();

export async function asAdmin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** A database of its own for one history, copied from the migrated template `template`. */
export const copyOf = (template: string): Promise<TestDatabase> => freshDatabase('late_conv', { template });

/** metering.vanished_spans, each row as `subject|at|app_id|learned_at` (microseconds kept). */
async function vanishedRows(db: pg.Pool | pg.PoolClient): Promise<Set<string>> {
  const { rows } = await db.query<{ row: string }>(
    `select subject || '|' || (at at time zone 'UTC')::text || '|' || app_id || '|' || (learned_at at time zone 'UTC')::text as row
       from metering.vanished_spans`,
  );
  return new Set(rows.map((r) => r.row));
}
/**
 * The batch's subjects the consumer derives in memory (newSubjectUsage): none of their events
 * stored before, the batch's numbered 1..n, nothing after a deprovisioning. It records no
 * vanished span for them (they were never billed); the SQL derivation, which derives the others, does.
 */
function derivedInMemory(fresh: readonly Arrival[], stored: ReadonlySet<string>): Set<string> {
  const bySubject = new Map<string, Arrival['event'][]>();
  for (const { event } of fresh)
    if (!stored.has(event.subject)) bySubject.set(event.subject, [...(bySubject.get(event.subject) ?? []), event]);
  const out = new Set<string>();
  for (const [subject, events] of bySubject) {
    events.sort((p, q) => p.sequence - q.sequence);
    if (events.every((e, i) => e.sequence === i + 1 && (e.type !== 'addon.deprovisioned' || i === events.length - 1))) out.add(subject);
  }
  return out;
}

/**
 * One batch arriving at `at`: applied by metering's consumer path, its new
 * events dated `at`, its subjects derived again (the test file's header says
 * why that is what production derives). The vanished spans the apply recorded
 * (learned at the real now(), or at an instant of the dated past where that was
 * later) are dropped; of those the re-derivation records, the spans of subjects
 * the consumer derives in memory are dropped too.
 */
export async function arrive(db: TestDatabase, batch: readonly Arrival[], at: number): Promise<void> {
  const ids = [...new Set(batch.map((a) => a.event.id))];
  const { rows: had } = await db.pool.query<{ id: string }>(`select id from metering.events where source = 'platform' and id = any($1)`, [
    ids,
  ]);
  const { rows: histories } = await db.pool.query<{ subject: string }>(
    'select distinct subject from metering.events where subject = any($1)',
    [[...new Set(batch.map((a) => a.event.subject))]],
  );
  const before = await vanishedRows(db.pool);
  const result = await applyRaw(
    db,
    batch.map((a) => raw(a.event)),
    at,
  );
  assert.deepEqual(
    result.rejected.map((r) => `${r.eventId}: ${JSON.stringify(r.reasons)}`),
    [],
    'every generated event is valid',
  );
  const fresh = ids.filter((id) => !had.some((r) => r.id === id));
  if (fresh.length === 0) return;
  const inMemory = derivedInMemory(
    fresh.map((id) => batch.find((a) => a.event.id === id)!),
    new Set(histories.map((r) => r.subject)),
  );
  const recorded = [...(await vanishedRows(db.pool))].filter((row) => !before.has(row));
  const client = await db.pool.connect();
  const drop = (row: string) => {
    const [subject, from, app, learned] = row.split('|');
    return client.query(
      `delete from metering.vanished_spans
        where subject = $1 and at = ($2::timestamp at time zone 'UTC') and app_id = $3 and learned_at = ($4::timestamp at time zone 'UTC')`,
      [subject, from, app, learned],
    );
  };
  try {
    await client.query('begin');
    const { rows } = await client.query<{ subject: string }>(
      `select distinct subject from metering.events where source = 'platform' and id = any($1)`,
      [fresh],
    );
    for (const row of recorded) await drop(row);
    await client.query(`update metering.events set received_at = $2 where source = 'platform' and id = any($1)`, [fresh, new Date(at)]);
    await deriveStored(
      client,
      rows.map((r) => r.subject),
    );
    for (const row of await vanishedRows(client)) if (!before.has(row) && inMemory.has(row.split('|')[0]!)) await drop(row);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
}

/** A finalize run at `at`, as the schedule makes one: every month due by then, oldest first, its new invoices dated `at`. */
export async function finalizeRun(db: TestDatabase, at: number): Promise<void> {
  const billing = createBilling({ pool: db.pool, prices, graceHours: GRACE_HOURS, now: () => DateTime.fromMillis(at, { zone: 'utc' }) });
  for (const month of MONTHS) {
    if (month.due > at) continue;
    const { rows } = await db.pool.query<{ id: string }>('select id from invoicing.invoices where period = $1', [month.key]);
    await billing.finalize(month.key);
    await db.pool.query('update invoicing.invoices set finalized_at = $2 where period = $1 and not (id = any($3))', [
      month.key,
      new Date(at),
      rows.map((r) => r.id),
    ]);
  }
}

/** Arrivals (in batches of one instant) and finalize runs in time order; an arrival at a run's instant comes first. */
export async function play(db: TestDatabase, h: History): Promise<void> {
  const batches = new Map<number, Arrival[]>();
  for (const a of h.arrivals) batches.set(a.at, [...(batches.get(a.at) ?? []), a]);
  const steps = [
    ...[...batches].map(([at, batch]) => ({ at, order: 0, batch })),
    ...h.runs.map((at) => ({ at, order: 1, batch: null })),
  ].sort((p, q) => p.at - q.at || p.order - q.order);
  for (const s of steps) {
    if (s.batch) {
      await arrive(db, s.batch, s.at);
      if (h.fold) await foldAllUsageChanges(db.pool);
    } else await finalizeRun(db, s.at);
  }
}

const cents = (amount: Decimal.Value) => new Decimal(amount).toFixed(2);

/** What finance relies on, every account and month: charged over its invoices = priced now; an invoice wherever there is usage. */
export async function violations(db: TestDatabase, h: History): Promise<string[]> {
  const out: string[] = [];
  for (const month of MONTHS) {
    const period = parsePeriod(month.key);
    const { drafts, ownerless } = await computeDrafts(db.pool, prices, { period, until: period.end.toJSDate(), accounts: h.accounts });
    for (const hold of ownerless) out.push(`${month.key}: usage no account owns: ${JSON.stringify(hold)}`);
    const { rows: lines } = await db.pool.query<{ account_id: string; line: string; amount: string }>(
      `select i.account_id, l.app_id || ' ' || l.key || ' ' || l.product as line, sum(l.amount)::text as amount
         from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
        where i.account_id = any($1) and ((i.period = $2 and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = $2))
        group by 1, 2`,
      [h.accounts, month.key],
    );
    const { rows: invoices } = await db.pool.query<{ account_id: string }>('select account_id from invoicing.invoices where period = $1', [
      month.key,
    ]);
    for (const account of h.accounts) {
      const draft = drafts.get(account);
      const now = new Map<string, Decimal>();
      for (const l of draft?.lines ?? []) {
        if (l.kind !== 'dyno' && l.kind !== 'addon') continue;
        const line = `${l.app_id} ${l.key} ${l.product}`;
        now.set(line, (now.get(line) ?? new Decimal(0)).plus(l.amount ?? 'NaN'));
      }
      const charged = new Map(lines.filter((r) => r.account_id === account).map((r) => [r.line, new Decimal(r.amount)]));
      const sum = (m: Map<string, Decimal>) => cents([...m.values()].reduce((s, v) => s.plus(v), new Decimal(0)));
      const where = `${account} ${month.key}`;
      if (draft && draft.holds.length > 0) out.push(`${where}: still held: ${JSON.stringify(draft.holds)}`);
      if (now.size > 0 && !invoices.some((i) => i.account_id === account)) out.push(`${where}: usage priced ${sum(now)} but no invoice`);
      if (sum(now) !== sum(charged)) out.push(`${where}: charged ${sum(charged)} over its invoices, priced now ${sum(now)}`);
      for (const line of new Set([...now.keys(), ...charged.keys()])) {
        const is = cents(now.get(line) ?? 0);
        const was = cents(charged.get(line) ?? 0);
        if (is !== was) out.push(`${where} ${line}: charged ${was}, priced now ${is}`);
      }
    }
  }
  return out;
}

/** Every line of the account-months named in `problems`, for the report: what each invoice said. */
export async function invoiceTrail(db: TestDatabase): Promise<string> {
  const { rows } = await db.pool.query<{ row: string }>(
    `select i.number || ' ' || i.account_id || ' finalized ' || to_char(i.finalized_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') || ': ' ||
            l.kind || coalesce(' adjusts ' || l.adjusts, '') || ' ' || l.app_id || ' ' || l.key || ' ' || l.product || ' ' || coalesce(l.amount::text, 'null') as row
       from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
      order by i.account_id, i.period, l.position`,
  );
  return rows.map((r) => `  ${r.row}`).join('\n');
}

/** A migrated database (metering's and invoicing's schemas, invoices' immutability off to date them) to copy from; its name. */
export async function migratedTemplate(): Promise<string> {
  const db = await billingDatabase();
  await db.pool.query('alter table invoicing.invoices disable trigger invoices_immutable');
  await db.pool.end();
  return new URL(db.url).pathname.slice(1);
}

export const dropDatabase = (name: string) => asAdmin((c) => c.query(`drop database if exists ${name} with (force)`));

/** What a history exercised, so a generator that stopped reaching late usage fails loudly. */
export async function exercised(db: TestDatabase): Promise<{ adjustments: number; vanished: number; lateInvoices: number }> {
  const { rows } = await db.pool.query<{ adjustments: number; vanished: number; late: number }>(
    `select (select count(*)::int from invoicing.invoice_lines where kind = 'adjustment') as adjustments,
            (select count(*)::int from metering.vanished_spans) as vanished,
            -- an account's month first invoiced after the month's first run: its usage came late
            (select count(*)::int from invoicing.invoices i
              where i.finalized_at > (select min(f.finalized_at) from invoicing.invoices f where f.period = i.period)) as late`,
  );
  return { adjustments: rows[0]!.adjustments, vanished: rows[0]!.vanished, lateInvoices: rows[0]!.late };
}
