// An account's invoices, newest first, read so that memory does not grow with its history:
// the customer's list reads invoice columns only, and the API's `{ "invoices": [...] }`
// (each with all its lines, api.md) is written as JSON text from keyset pages of invoices
// and, per invoice, keyset pages of its lines. Reading every line of every invoice at once
// took 3.9 s, +61 MiB and a 9.7 MiB body for 48,000 lines, on every request.
import type pg from 'pg';
import { Invoice, InvoiceLine } from '@vault/contracts';
import { publicInvoice } from '../domain/invoice.ts';
import { INVOICE_COLUMNS, LINE_COLUMNS, lineOf, type InvoiceRow, type LineRow } from './invoice-store.ts';

type Db = Pick<pg.Pool, 'query'>;

/** Invoices per statement, and lines per statement: the most rows any statement of the list returns. */
export const INVOICE_PAGE = 100;
export const LINE_PAGE = 1000;

/** An invoice as the list shows it: everything but its lines (and holds, which a finalized invoice has none of). */
export type InvoiceSummary = Omit<Invoice, 'lines' | 'holds'>;

const summaryOf = (r: InvoiceRow): InvoiceSummary => {
  const { lines: _lines, holds: _holds, ...summary } = publicInvoice({ ...r, lines: [], holds: [] });
  return summary;
};

// A period is unique per account (and orders as period_start does): the keyset of the pages.
const INVOICES_PAGE_SQL = `select ${INVOICE_COLUMNS} from invoicing.invoices
  where account_id = $1 and ($2::text is null or period < $2) order by period desc limit $3`;
// The lines' key (invoice_number, position) is the partition key's and the primary key: one partition's index.
const LINES_PAGE_SQL = `select ${LINE_COLUMNS}, l.position from invoicing.invoice_lines l
  where l.invoice_number = $1 and l.position > $2 order by l.position limit $3`;

/** Which of the account's invoices: those of months before `before`, at most `limit` of them (newest first). */
export interface InvoiceWindow {
  before?: string;
  limit?: number;
}

async function* invoicePages(db: Db, accountId: string, size: number, window: InvoiceWindow = {}): AsyncGenerator<InvoiceRow[]> {
  let before = window.before ?? null;
  let left = window.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const take = Math.min(size, left);
    const { rows }: { rows: InvoiceRow[] } = await db.query<InvoiceRow>(INVOICES_PAGE_SQL, [accountId, before, take]);
    if (rows.length > 0) yield rows;
    if (rows.length < take) return;
    left -= rows.length;
    before = rows.at(-1)!.period;
  }
}

/** The account's invoices without their lines, newest first: what the /invoices page shows (a row a month billed). */
export async function invoiceSummaries(db: Db, accountId: string): Promise<InvoiceSummary[]> {
  const all: InvoiceSummary[] = [];
  for await (const page of invoicePages(db, accountId, INVOICE_PAGE)) all.push(...page.map(summaryOf));
  return all;
}

/**
 * `{"invoices":[…]}` of GET /v1/accounts/:id/invoices as text chunks, byte for byte what
 * JSON.stringify(InvoiceList.parse(…)) gave of the whole list (each invoice's keys in the
 * schema's order, its lines spliced in where `lines` stands): at most one page of lines is
 * held at a time. Pages are separate statements, not one snapshot: an invoice finalized
 * meanwhile is newer than the pages left and is not listed; one changing status shows its
 * state when its page is read.
 *
 * The first page of invoices is read before this resolves, so before any byte is sent: a
 * failure there (the statement timeout behind a held lock) rejects here and is answered as any
 * route's error (503), never a 200 cut short. Later statements fail the chunks midway.
 */
export async function invoiceListJson(
  db: Db,
  accountId: string,
  window: InvoiceWindow = {},
  pages: { invoices: number; lines: number } = { invoices: INVOICE_PAGE, lines: LINE_PAGE },
): Promise<AsyncGenerator<string>> {
  const invoices = invoicePages(db, accountId, pages.invoices, window);
  const first = await invoices.next();
  return listText(db, first, invoices, pages.lines);
}

/** The list's text from its first page of invoices (already read) and the pages after it. */
async function* listText(
  db: Db,
  first: IteratorResult<InvoiceRow[]>,
  invoices: AsyncGenerator<InvoiceRow[]>,
  linePage: number,
): AsyncGenerator<string> {
  let sep = '';
  yield '{"invoices":[';
  for (let page = first; !page.done; page = await invoices.next()) {
    for (const row of page.value) {
      const invoice = Invoice.parse(publicInvoice({ ...row, lines: [], holds: [] }));
      let text = `${sep}{`;
      sep = ',';
      let key = 0;
      for (const [name, value] of Object.entries(invoice)) {
        if (value === undefined) continue; // as JSON.stringify leaves it out
        text += `${key++ === 0 ? '' : ','}${JSON.stringify(name)}:`;
        if (name !== 'lines') {
          text += JSON.stringify(value);
          continue;
        }
        yield `${text}[`;
        text = '';
        yield* linesJson(db, row.number, linePage);
        text = ']';
      }
      yield `${text}}`;
    }
  }
  yield ']}';
}

/** One invoice's lines, in position order, as JSON array items: a chunk per page. */
async function* linesJson(db: Db, invoiceNumber: string, size: number): AsyncGenerator<string> {
  let after = -1;
  let sep = '';
  for (;;) {
    const { rows } = await db.query<LineRow & { position: number }>(LINES_PAGE_SQL, [invoiceNumber, after, size]);
    if (rows.length > 0) {
      yield sep + rows.map((r) => JSON.stringify(InvoiceLine.parse(lineOf(r)))).join(',');
      sep = ',';
    }
    if (rows.length < size) return;
    after = rows.at(-1)!.position;
  }
}
