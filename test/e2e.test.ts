// The whole pipeline across the four apps, as processes, in both bus modes:
// events published → usage → finalize → charged through the sandbox → paid →
// finance's CSV exports reconcile with the invoices, to the cent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import { eventually } from '@vault/testkit';
import { parseCsv } from '../services/invoicing/src/exports/csv.ts';
import { fixtureText as exampleText, octoberInvoices, statedLine, type StatedLine } from './fixtures/october.ts';
import { startPipeline, type BusMode, type Pipeline } from './e2e/pipeline.ts';

interface ApiInvoice {
  id: string;
  number: string | null;
  account_id: string;
  period: string;
  status: string;
  currency: string;
  total: string;
  lines: StatedLine[];
}

const expected = octoberInvoices;
const pick = statedLine;

for (const mode of ['embedded', 'kafka'] as BusMode[]) {
  describe(`the pipeline end to end on the ${mode} bus: publish → usage → finalize → charge → paid → CSV`, () => {
    let p: Pipeline;
    const json = async <T>(res: Response): Promise<T> => {
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as T;
    };
    const invoicesOf = async (account: string) =>
      (await json<{ invoices: ApiInvoice[] }>(await p.call(p.apps.invoicing, `/v1/accounts/${account}/invoices`))).invoices;

    before(async () => {
      p = await startPipeline(mode);
    });
    after(async () => {
      await p?.close();
    });

    test('`vault publish` puts october.ndjson on the bus; metering applies 13 events once (2 duplicates)', async () => {
      const run = await p.vault(['publish'], exampleText('october.ndjson'));
      assert.equal(run.status, 0, run.stderr + run.stdout);
      assert.match(run.stdout, new RegExp(`15 lines .*\\(${mode} bus\\): 13 accepted, 2 duplicate, 0 rejected`));
      await eventually('metering applied october', async () => {
        const stats = await json<{ events_applied: number; consumer_lag: number }>(await p.call(p.apps.metering, '/v1/stats'));
        return stats.events_applied === 13 && stats.consumer_lag === 0;
      });
    });

    test('invoicing shows October as drafts equal to october-invoices.json before it is finalized', async () => {
      for (const want of expected) {
        const draft = await json<ApiInvoice>(await p.call(p.apps.invoicing, `/v1/accounts/${want.account_id}/usage?period=2026-10`));
        assert.equal(draft.status, 'draft');
        assert.equal(draft.number, null);
        assert.equal(draft.total, want.total);
        assert.deepEqual(draft.lines.map(pick), want.lines.map(pick));
      }
    });

    test("cards go on file through cc-forms' steps; `vault finalize` numbers both invoices; the charge loop makes both paid, one charge each", async () => {
      for (const { account_id } of expected) {
        const card = await p.vault(['card', 'add', '--account', account_id]);
        assert.equal(card.status, 0, card.stderr + card.stdout);
        assert.match(card.stdout, new RegExp(`card on file for ${account_id}: visa •••• 4242`));
      }
      const finalize = await p.vault(['finalize', '--period', '2026-10']);
      assert.equal(finalize.status, 0, finalize.stderr + finalize.stdout);
      assert.match(finalize.stdout, /finalized 2 invoice\(s\) for 2026-10 totalling 53\.87/);

      await eventually(
        'both invoices paid',
        async () => {
          const all = await Promise.all(expected.map((e) => invoicesOf(e.account_id)));
          return all.every((list) => list.length === 1 && list[0]!.status === 'paid');
        },
        60_000,
      );
      for (const want of expected) {
        const [invoice] = await invoicesOf(want.account_id);
        assert.equal(invoice!.total, want.total);
        assert.deepEqual(invoice!.lines.map(pick), want.lines.map(pick));
        // The sandbox holds exactly one PaymentIntent for the invoice and one succeeded charge of its total.
        const { rows } = await p.db.pool.query<{ amount: string; status: string; intent_meta: string }>(
          `select c.amount::text, c.status, pi.metadata ->> 'invoice_id' as intent_meta
             from gateway_sandbox.charges c join gateway_sandbox.payment_intents pi on pi.id = c.payment_intent
            where pi.metadata ->> 'invoice_id' = $1`,
          [invoice!.id],
        );
        assert.deepEqual(
          rows.map((r) => [r.status, r.amount]),
          [['succeeded', new Decimal(want.total).times(100).toFixed(0)]],
        );
      }
    });

    test("finance's CSV exports reconcile with the invoices: one row each, lines summing to each total, control totals to the cent", async () => {
      const invoices = (await Promise.all(expected.map((e) => invoicesOf(e.account_id)))).flat();
      const csv = async (path: string) => {
        const res = await p.call(p.apps.invoicing, path);
        assert.equal(res.status, 200, await res.clone().text());
        assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
        return parseCsv(await res.text());
      };
      const [invoiceHeader, ...invoiceRows] = await csv('/v1/exports/invoices.csv?period=2026-10');
      const col = (header: string[], name: string) => header.indexOf(name);
      const invoiceControl = invoiceRows.pop()!;
      assert.equal(invoiceControl[0], 'TOTAL');
      assert.equal(invoiceRows.length, invoices.length);
      for (const row of invoiceRows) {
        const invoice = invoices.find((i) => i.id === row[col(invoiceHeader!, 'id')]);
        assert.ok(invoice, `exported invoice ${row[1]} is one of the API's`);
        assert.equal(row[col(invoiceHeader!, 'number')], invoice.number);
        assert.equal(row[col(invoiceHeader!, 'status')], 'paid');
        assert.equal(row[col(invoiceHeader!, 'total')], invoice.total);
        assert.equal(row[col(invoiceHeader!, 'line_count')], String(invoice.lines.length));
      }
      const sumOfTotals = invoices.reduce((s, i) => s.plus(i.total), new Decimal(0)).toFixed(2);
      assert.equal(sumOfTotals, '53.87');
      assert.equal(invoiceControl[col(invoiceHeader!, 'total')], sumOfTotals);

      const [lineHeader, ...lineRows] = await csv('/v1/exports/lines.csv?period=2026-10');
      const lineControl = lineRows.pop()!;
      assert.equal(lineControl[col(lineHeader!, 'amount')], sumOfTotals);
      for (const invoice of invoices) {
        const mine = lineRows.filter((r) => r[col(lineHeader!, 'invoice_id')] === invoice.id);
        assert.equal(mine.length, invoice.lines.length);
        const sum = mine.reduce((s, r) => s.plus(r[col(lineHeader!, 'amount')]!), new Decimal(0));
        assert.equal(sum.toFixed(2), invoice.total, `${invoice.number}'s lines add up to its total`);
      }

      // The CLI gives the same file as the route.
      const cli = await p.vault(['export', 'invoices', '--period', '2026-10']);
      assert.equal(cli.status, 0, cli.stderr);
      assert.deepEqual(parseCsv(cli.stdout), [invoiceHeader, ...invoiceRows, invoiceControl]);
    });
  });
}
