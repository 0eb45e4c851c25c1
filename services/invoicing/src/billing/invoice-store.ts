import type pg from 'pg';
import type { Invoice, InvoiceStatus, LineKind } from '@vault/contracts';
import { publicInvoice, type DraftInvoice } from '../domain/invoice.ts';
import type { PricedLine } from '../domain/lines.ts';
import type { Period } from '../domain/period.ts';

type Db = pg.Pool | pg.PoolClient;

interface InvoiceRow {
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
}

interface LineRow {
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

const INVOICE_COLUMNS =
  'id, number, account_id, period, status, currency, subtotal::text, credit_applied::text, total::text, amount_refunded::text';
// Qualified: the lines table is `l` wherever these are read.
const LINE_COLUMNS = `l.invoice_id, l.app_id, l.kind, l.key, l.product, l.quantity::text, l.unit_price::text, l.amount::text,
  l.description, l.adjusts, l.ms::text`;

const lineOf = (r: LineRow): PricedLine => ({
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
    `select ${LINE_COLUMNS} from invoicing.invoice_lines l where l.invoice_id = any($1::text[]) order by l.invoice_id, l.position`,
    [rows.map((r) => r.id)],
  );
  const byInvoice = new Map<string, PricedLine[]>();
  for (const l of lines.rows) byInvoice.set(l.invoice_id, [...(byInvoice.get(l.invoice_id) ?? []), lineOf(l)]);
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
       from invoicing.invoices i join invoicing.invoice_lines l on l.invoice_id = i.id
      where i.account_id = any($2::text[])
        and ((i.period = $1 and l.kind in ('dyno', 'addon')) or (l.kind = 'adjustment' and l.adjusts = $1))`,
    [period, accounts],
  );
  const byAccount = new Map<string, PricedLine[]>();
  for (const r of rows) byAccount.set(r.account_id, [...(byAccount.get(r.account_id) ?? []), lineOf(r)]);
  return byAccount;
}

/** A draft about to be finalized, with the number it gets. */
export type NewInvoice = Pick<
  DraftInvoice,
  'id' | 'account_id' | 'currency' | 'subtotal' | 'credit_applied' | 'total' | 'lines' | 'creditUses'
> & {
  number: string;
};

const CHUNK = 20_000;

const INSERT_INVOICES = `
  insert into invoicing.invoices
    (period, period_start, period_end, finalized_at, id, number, account_id, currency, total, subtotal, credit_applied)
  select $1::text, $2::timestamptz, $3::timestamptz, coalesce($4::timestamptz, now()),
         id, number, account_id, currency, total, subtotal, credit_applied
    from json_populate_recordset(null::invoicing.invoices, $5::json)`;

const INSERT_LINES = `
  insert into invoicing.invoice_lines
    (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms)
  select invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms
    from json_populate_recordset(null::invoicing.invoice_lines, $1::json)`;

/**
 * Inserts a month's finalized invoices and their lines, a statement per
 * 20,000 rows; the rows travel as one JSON array each (JSON.stringify is
 * native; pg's array literals cost several times more CPU to build).
 * `finalizedAt`: when the usage they bill was read (late usage is looked for
 * from then on); the transaction's start when omitted.
 */
export async function insertInvoices(
  client: pg.PoolClient,
  period: Period,
  invoices: readonly NewInvoice[],
  finalizedAt?: Date,
): Promise<void> {
  for (let i = 0; i < invoices.length; i += CHUNK) {
    const rows = invoices.slice(i, i + CHUNK).map((x) => ({
      id: x.id,
      number: x.number,
      account_id: x.account_id,
      currency: x.currency,
      total: x.total,
      subtotal: x.subtotal,
      credit_applied: x.credit_applied,
    }));
    await client.query(INSERT_INVOICES, [
      period.key,
      period.start.toJSDate(),
      period.end.toJSDate(),
      finalizedAt ?? null,
      JSON.stringify(rows),
    ]);
  }
  let rows: object[] = [];
  const flush = async () => {
    if (rows.length > 0) await client.query(INSERT_LINES, [JSON.stringify(rows)]);
    rows = [];
  };
  for (const inv of invoices) {
    for (const [position, l] of inv.lines.entries()) {
      rows.push({
        invoice_id: inv.id,
        position,
        app_id: l.app_id,
        kind: l.kind,
        key: l.key,
        product: l.product,
        quantity: l.quantity,
        unit_price: l.unit_price,
        amount: l.amount,
        description: l.description,
        adjusts: l.adjusts ?? null,
        ms: l.ms,
      });
    }
    if (rows.length >= CHUNK) await flush();
  }
  await flush();
}

/** The accounts that already have their invoice for the period. */
export async function finalizedAccounts(db: Db, period: string): Promise<Set<string>> {
  const { rows } = await db.query<{ account_id: string }>('select account_id from invoicing.invoices where period = $1', [period]);
  return new Set(rows.map((r) => r.account_id));
}
