import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopyText } from '@vault/db';
import type { Invoice, InvoiceStatus, LineKind } from '@vault/contracts';
import { publicInvoice, type DraftInvoice } from '../domain/invoice.ts';
import type { PricedLine } from '../domain/lines.ts';
import type { Period } from '../domain/period.ts';
import { appendTo } from '../domain/group.ts';
import { amountDisputedSql } from '../charging/dispute-sums.ts';

type Db = pg.Pool | pg.PoolClient;

export interface InvoiceRow {
  id: string;
  number: string;
  account_id: string;
  period: string;
  status: InvoiceStatus;
  currency: string;
  subtotal: string;
  credit_applied: string;
  total: string;
  amount_refunded: string;
  amount_disputed: string;
}

export interface LineRow {
  invoice_id: string;
  app_id: string;
  kind: LineKind;
  key: string;
  product: string;
  quantity: string;
  unit_price: string | null;
  amount: string | null;
  description: string;
  adjusts: string | null;
  ms: string;
}

// Read `from invoicing.invoices` unaliased: the amount disputed refers to the table by its name.
export const INVOICE_COLUMNS = `id, number, account_id, period, status, currency, subtotal::text, credit_applied::text, total::text,
  amount_refunded::text, ${amountDisputedSql('invoices')} as amount_disputed`;
// Qualified: the lines table is `l` wherever these are read.
export const LINE_COLUMNS = `l.invoice_id, l.app_id, l.kind, l.key, l.product, l.quantity::text, l.unit_price::text, l.amount::text,
  l.description, l.adjusts, l.ms::text`;

export const lineOf = (r: LineRow): PricedLine => ({
  app_id: r.app_id,
  kind: r.kind,
  key: r.key,
  product: r.product,
  quantity: r.quantity,
  unit_price: r.unit_price,
  amount: r.amount,
  description: r.description,
  ...(r.adjusts ? { adjusts: r.adjusts } : {}),
  ms: Number(r.ms),
});

async function withLines(db: Db, rows: InvoiceRow[]): Promise<Invoice[]> {
  if (rows.length === 0) return [];
  const lines = await db.query<LineRow>(
    `select ${LINE_COLUMNS} from invoicing.invoice_lines l where l.invoice_number = any($1::text[]) order by l.invoice_number, l.position`,
    [rows.map((r) => r.number)],
  );
  const byInvoice = new Map<string, PricedLine[]>();
  for (const l of lines.rows) appendTo(byInvoice, l.invoice_id, lineOf(l));
  return rows.map((r) => publicInvoice({ ...r, lines: byInvoice.get(r.id) ?? [], holds: [] }));
}

export async function finalizedInvoices(db: Db, accountId: string): Promise<Invoice[]> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoicing.invoices where account_id = $1 order by period_start desc`,
    [accountId],
  );
  return withLines(db, rows);
}

export async function finalizedInvoice(
  db: Db,
  where: { id: string } | { accountId: string; period: string },
): Promise<Invoice | undefined> {
  const [condition, values] =
    'id' in where ? ['id = $1', [where.id]] : ['account_id = $1 and period = $2', [where.accountId, where.period]];
  const { rows } = await db.query<InvoiceRow>(`select ${INVOICE_COLUMNS} from invoicing.invoices where ${condition}`, values);
  return (await withLines(db, rows))[0];
}

/**
 * What each account was charged for a finalized month: that invoice's usage
 * lines and every adjustment to that month on its later finalized invoices.
 */
export async function chargedLines(db: Db, period: string, accounts: readonly string[]): Promise<Map<string, PricedLine[]>> {
  const { rows } = await db.query<LineRow & { account_id: string }>(
    `select i.account_id, ${LINE_COLUMNS}
       from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_number = i.number
      where i.account_id = any($2::text[])
        and ((i.period = $1 and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = $1))`,
    [period, accounts],
  );
  const byAccount = new Map<string, PricedLine[]>();
  for (const r of rows) appendTo(byAccount, r.account_id, lineOf(r));
  return byAccount;
}

/** A draft about to be finalized, with the number it gets. */
export type NewInvoice = Pick<
  DraftInvoice,
  'id' | 'account_id' | 'currency' | 'subtotal' | 'credit_applied' | 'total' | 'lines' | 'creditUses'
> & {
  number: string;
};

/**
 * Inserts finalized invoices and their lines in the caller's transaction,
 * each table through one COPY (it costs the server about half of reading the
 * same rows from a JSON parameter, and the client less than building one).
 * `finalizedAt`: when the usage they bill was read (late usage is looked for
 * from then on).
 */
export async function insertInvoices(
  client: pg.PoolClient,
  period: Period,
  invoices: readonly NewInvoice[],
  finalizedAt: Date,
): Promise<void> {
  if (invoices.length === 0) return;
  const [start, end, at] = [period.start.toJSDate().toISOString(), period.end.toJSDate().toISOString(), finalizedAt.toISOString()];
  const rows = new CopyText();
  for (const x of invoices) {
    rows.text(period.key).text(start).text(end).text(at).text(x.id).text(x.number).text(x.account_id).text(x.currency);
    rows.text(x.total).text(x.subtotal).text(x.credit_applied).endRow();
  }
  await copyIn(client, COPY_INVOICES, rows.bytes());
  // Straight into the month's partition (migration 016): the lines' invoices are the ones just
  // copied, from the same values, and the invoices' apps are written here rather than by the
  // parent's triggers, whose transition tables cost the server more than the lines themselves.
  await client.query(`select set_config('invoicing.lines_kept_by', 'finalize', true)`);
  const lines = linesCopyText(invoices);
  if (lines.length > 0) await copyIn(client, copyLines(period.key), lines);
  const apps = invoiceAppsCopyText(invoices);
  if (apps.length > 0) await copyIn(client, COPY_INVOICE_APPS, apps);
  await insertAdjustedApps(client, invoices);
}

/**
 * Each adjustment line's account, month adjusted and app (migration 022), as
 * the parent's note_invoice_apps trigger would note them: late usage looks
 * again at a month that charged an app only through an adjustment. Few lines
 * are adjustments, so one insert, only when there are some; a month and app
 * adjusted before is already there.
 */
async function insertAdjustedApps(client: pg.PoolClient, invoices: readonly NewInvoice[]): Promise<void> {
  const seen = new Set<string>();
  const accounts: string[] = [];
  const periods: string[] = [];
  const apps: string[] = [];
  for (const inv of invoices) {
    for (const l of inv.lines) {
      if (l.kind !== 'adjustment' || l.adjusts === undefined) continue;
      const key = JSON.stringify([inv.account_id, l.adjusts, l.app_id]);
      if (seen.has(key)) continue;
      seen.add(key);
      accounts.push(inv.account_id);
      periods.push(l.adjusts);
      apps.push(l.app_id);
    }
  }
  if (accounts.length === 0) return;
  await client.query(
    `insert into invoicing.adjusted_apps (account_id, period, app_id)
     select * from unnest($1::text[], $2::text[], $3::text[]) on conflict do nothing`,
    [accounts, periods, apps],
  );
}

/** Creates the month's partition of the lines (migration 014) if it is missing; finalize calls it under its lock, before writing. */
export async function ensureLinesMonth(db: Db, period: string): Promise<void> {
  await db.query('select invoicing.ensure_lines_month($1)', [period]);
}

/** Sends `rows` (COPY's text format, CopyText's bytes) to a `copy … from stdin` statement. */
export const copyIn = (client: pg.PoolClient, statement: string, rows: Buffer) =>
  pipeline(Readable.from([rows]), client.query(copyFrom(statement)));

const COPY_INVOICES = `copy invoicing.invoices
  (period, period_start, period_end, finalized_at, id, number, account_id, currency, total, subtotal, credit_applied) from stdin`;
/** The month's partition of the lines, as ensure_lines_month names it (a period key is YYYY-MM). */
const linesPartition = (period: string) => `invoicing.invoice_lines_${period.replace('-', '_')}`;
const copyLines = (period: string) => `copy ${linesPartition(period)}
  (invoice_number, invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms) from stdin`;
const COPY_INVOICE_APPS = 'copy invoicing.invoice_apps (app_id, invoice_id) from stdin';

/** Each invoice's apps, once each, as the parent's note_invoice_apps trigger would note them. */
function invoiceAppsCopyText(invoices: readonly NewInvoice[]): Buffer {
  const rows = new CopyText();
  for (const inv of invoices) {
    const apps: string[] = [];
    for (const l of inv.lines) if (!apps.includes(l.app_id)) apps.push(l.app_id);
    for (const app of apps) rows.text(app).text(inv.id).endRow();
  }
  return rows.bytes();
}

/** The invoices' lines in COPY's text format, a row a line in `position` order. */
export function linesCopyText(invoices: readonly NewInvoice[]): Buffer {
  const rows = new CopyText(256 * 1024);
  for (const inv of invoices) {
    const lines = inv.lines;
    for (let position = 0; position < lines.length; position++) {
      const l = lines[position]!;
      rows.text(inv.number).text(inv.id).number(position).text(l.app_id).text(l.kind).text(l.key).text(l.product);
      rows
        .text(l.quantity)
        .text(l.unit_price)
        .text(l.amount)
        .text(l.description)
        .text(l.adjusts ?? null)
        .number(l.ms)
        .endRow();
    }
  }
  return rows.bytes();
}

/** The accounts (of `accounts` when given) that already have their invoice for the period. */
export async function finalizedAccounts(db: Db, period: string, accounts?: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ account_id: string }>(
    'select account_id from invoicing.invoices where period = $1 and ($2::text[] is null or account_id = any($2::text[]))',
    [period, accounts ?? null],
  );
  return new Set(rows.map((r) => r.account_id));
}
