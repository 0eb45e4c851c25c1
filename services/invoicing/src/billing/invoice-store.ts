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

/**
 * Finalized months (before `before`) that may have late usage: metering
 * learned something about one of the month's apps after, or just before, the
 * invoice was finalized. Whether it changes what the month charges is decided
 * by recomputing it, so a spurious candidate costs time, never money.
 */
const LATE_CANDIDATES = `
  with threshold as (
    select min(finalized_at) - $3::interval as t from invoicing.invoices
     where period_start < $1 and ($2::text[] is null or account_id = any($2::text[]))
  ),
  late as materialized (
    select app_id, during, learned_at from metering.billable_usage, threshold where learned_at > threshold.t
    union all
    select app_id, during, learned_at from metering.billable_ownership, threshold where learned_at > threshold.t
  ),
  touched as (
    -- accounts that own the app in the late usage's month now …
    select i.account_id, i.period, i.period_start, i.period_end
      from late l
      join metering.billable_ownership o on o.app_id = l.app_id and o.during && l.during
      join invoicing.invoices i on i.account_id = o.account_id
                               and o.during && tstzrange(i.period_start, i.period_end, '[)')
                               and l.during && tstzrange(i.period_start, i.period_end, '[)')
     where i.period_start < $1 and l.learned_at > i.finalized_at - $3::interval
    union
    -- … or were charged for it
    select i.account_id, i.period, i.period_start, i.period_end
      from late l
      join invoicing.invoice_lines il on il.app_id = l.app_id
      join invoicing.invoices i on i.id = il.invoice_id
                               and l.during && tstzrange(i.period_start, i.period_end, '[)')
     where i.period_start < $1 and l.learned_at > i.finalized_at - $3::interval
  )
  select distinct account_id, period from touched
   where $2::text[] is null or account_id = any($2::text[])`;

export async function lateCandidates(
  db: Db,
  before: Date,
  accounts: readonly string[] | undefined,
  margin: string,
): Promise<{ account_id: string; period: string }[]> {
  const { rows } = await db.query<{ account_id: string; period: string }>(LATE_CANDIDATES, [before, accounts ?? null, margin]);
  return rows;
}

/** A draft about to be finalized, with the number it gets. */
export type NewInvoice = Pick<
  DraftInvoice,
  'id' | 'account_id' | 'currency' | 'subtotal' | 'credit_applied' | 'total' | 'lines' | 'creditUses'
> & {
  number: string;
};

const CHUNK = 20_000;

/** Inserts a month's finalized invoices and their lines, a few statements per 20,000 lines. */
export async function insertInvoices(client: pg.PoolClient, period: Period, invoices: readonly NewInvoice[]): Promise<void> {
  for (let i = 0; i < invoices.length; i += CHUNK) {
    const chunk = invoices.slice(i, i + CHUNK);
    await client.query(
      `insert into invoicing.invoices (period, period_start, period_end, id, number, account_id, currency, total, subtotal, credit_applied)
       select $1::text, $2::timestamptz, $3::timestamptz, *
         from unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[])`,
      [
        period.key,
        period.start.toJSDate(),
        period.end.toJSDate(),
        chunk.map((x) => x.id),
        chunk.map((x) => x.number),
        chunk.map((x) => x.account_id),
        chunk.map((x) => x.currency),
        chunk.map((x) => x.total),
        chunk.map((x) => x.subtotal),
        chunk.map((x) => x.credit_applied),
      ],
    );
  }
  const lines = invoices.flatMap((inv) => inv.lines.map((l, position) => ({ inv: inv.id, position, l })));
  for (let i = 0; i < lines.length; i += CHUNK) {
    const chunk = lines.slice(i, i + CHUNK);
    const col = <T>(f: (x: (typeof chunk)[number]) => T) => chunk.map(f);
    await client.query(
      `insert into invoicing.invoice_lines
         (invoice_id, position, app_id, kind, key, product, quantity, unit_price, amount, description, adjusts, ms)
       select * from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
                            $8::numeric[], $9::numeric[], $10::text[], $11::text[], $12::bigint[])`,
      [
        col((x) => x.inv),
        col((x) => x.position),
        col((x) => x.l.app_id),
        col((x) => x.l.kind),
        col((x) => x.l.key),
        col((x) => x.l.product),
        col((x) => x.l.quantity),
        col((x) => x.l.unit_price),
        col((x) => x.l.amount),
        col((x) => x.l.description),
        col((x) => x.l.adjusts ?? null),
        col((x) => String(x.l.ms)),
      ],
    );
  }
}

/** The accounts that already have their invoice for the period. */
export async function finalizedAccounts(db: Db, period: string): Promise<Set<string>> {
  const { rows } = await db.query<{ account_id: string }>('select account_id from invoicing.invoices where period = $1', [period]);
  return new Set(rows.map((r) => r.account_id));
}
