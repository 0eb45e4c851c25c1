import { amountDisputedSql } from '../charging/dispute-sums.ts';
import type { FieldKind } from './csv.ts';

export const EXPORT_KINDS = ['invoices', 'lines', 'credits'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export const isExportKind = (s: string): s is ExportKind => (EXPORT_KINDS as readonly string[]).includes(s);

export interface ExportColumn {
  name: string;
  kind: FieldKind;
  /** Summed into the control row, shown with this many decimals. */
  sumDecimals?: number;
}

export interface ExportTable {
  columns: readonly ExportColumn[];
  /** The column whose sum is the file's control total. */
  totalColumn: string;
  /** The file lists the month's invoices: refused while a finalize of the month has not completed. */
  invoicesOfMonth: boolean;
  /**
   * An empty column of the control row that says, when accounts of the month
   * are held, that the file is the month so far (held.ts): the columns stay as
   * they are. Only files of the month's invoices have one.
   */
  noteColumn?: string;
  /**
   * One period's rows (`$1`), in file order, every column already text: the
   * database formats numerics ("25.00", "-3.61") and timestamps, never JS numbers.
   */
  sql: string;
}

/** Column 1 of the control row. */
export const CONTROL_LABEL = 'TOTAL';
/** Every file's column of the rows' currency: the control row names its total's currency there too. */
export const CURRENCY_COLUMN = 'currency';
/** The control row's data row count goes in column 2 (the invoice id column, the entry id of credits.csv). */
export const CONTROL_COUNT_COLUMN = 1;

const text = (name: string): ExportColumn => ({ name, kind: 'text' });
const value = (name: string): ExportColumn => ({ name, kind: 'value' });
const summed = (name: string, sumDecimals: number): ExportColumn => ({ name, kind: 'value', sumDecimals });

// The ledger entries dated in the month (UTC), by billing's clock.
const IN_PERIOD = `e.at >= (($1 || '-01')::date)::timestamp at time zone 'UTC'
             and e.at < (($1 || '-01')::date + interval '1 month')::timestamp at time zone 'UTC'`;

// Every stored invoice is finalized (drafts are computed, never stored); its
// status only moves on with payment, so the period's invoices are all of them.
export const EXPORT_TABLES: Record<ExportKind, ExportTable> = {
  invoices: {
    columns: [
      text('number'),
      text('id'),
      text('account_id'),
      text('period'),
      text('status'),
      text('currency'),
      summed('subtotal', 2),
      summed('credit_applied', 2),
      summed('total', 2),
      summed('amount_refunded', 2),
      value('finalized_at'),
      summed('line_count', 0),
      // Added last (api.md lists no columns; a reader by position keeps its columns): chargebacks not reinstated.
      summed('amount_disputed', 2),
    ],
    totalColumn: 'total',
    invoicesOfMonth: true,
    noteColumn: 'status',
    sql: `select i.number, i.id, i.account_id, i.period, i.status, i.currency,
                 i.subtotal::text, i.credit_applied::text, i.total::text, i.amount_refunded::text,
                 to_char(i.finalized_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 (select count(*) from invoicing.invoice_lines l where l.invoice_number = i.number)::text,
                 ${amountDisputedSql('i')}
            from invoicing.invoices i
           where i.period = $1
           order by i.number`,
  },
  lines: {
    columns: [
      text('number'),
      text('invoice_id'),
      text('account_id'),
      text('period'),
      value('position'),
      text('app_id'),
      text('kind'),
      text('key'),
      text('product'),
      value('quantity'),
      value('unit_price'),
      summed('amount', 2),
      text('adjusts'),
      text('description'),
      // Added last, as invoices.csv's amount_disputed: the invoice's, so the control row names the total's currency.
      text('currency'),
    ],
    totalColumn: 'amount',
    invoicesOfMonth: true,
    noteColumn: 'description',
    sql: `select i.number, l.invoice_id, i.account_id, i.period, l.position::text, l.app_id, l.kind, l.key,
                 l.product, l.quantity::text, l.unit_price::text, l.amount::text, l.adjusts, l.description,
                 i.currency
            from invoicing.invoices i
            join invoicing.invoice_lines l on l.invoice_number = i.number
           where i.period = $1
           order by i.number, l.position`,
  },
  // The credit ledger's entries of the month, in order: grants and invoice
  // remainders add (positive), credit applied and expired take (negative), so
  // the control total is how much the balances moved in the month.
  // Entries of one instant (a finalize run's) by id as code points ("C"): the
  // ids are the ledger's, and the server's default collation must not reorder them.
  // (The invoices and lines files order by number, fixed width `YYYY-MM-NNNNNN`:
  // the same order in any collation, and their index keeps its use.)
  credits: {
    columns: [
      value('at'),
      text('id'),
      text('account_id'),
      text('kind'),
      summed('amount', 2),
      text('currency'),
      text('grant_id'),
      text('lot_id'),
      text('invoice_number'),
      value('expires_at'),
      text('reason'),
    ],
    totalColumn: 'amount',
    invoicesOfMonth: false,
    sql: `select to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), e.id, e.account_id, e.kind, e.amount::text,
                 e.currency, e.grant_id, e.lot_id, i.number,
                 to_char(e.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), e.reason
            from invoicing.credit_entries e
            left join invoicing.invoices i on i.id = e.invoice_id
           where ${IN_PERIOD}
           order by e.at, e.id collate "C"`,
  },
};
