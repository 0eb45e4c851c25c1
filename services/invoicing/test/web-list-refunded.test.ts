// A paid invoice refunded in part read "paid" in the invoice list, with its whole total
// beside it: the customer saw "paid $52.58" after $30.00 went back to their card. The list
// (and the tag of the invoice and usage pages, the same statusTag) now says "paid, $30.00
// refunded", the amount from the invoice's own amount_refunded. In a real Chromium over a
// real database and the real billing; finance's invoices.csv already tells it in its own
// columns (status paid, amount_refunded 30.00), checked here so the two stay one truth.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Invoice } from '@vault/contracts';
import { parseCsv, unguardText } from '../src/exports/index.ts';
import { ACCOUNT_A, ACCOUNT_B, webClient, webWorld, type WebWorld } from './web-fixture.ts';

let world: WebWorld;
let invoice: Invoice;
before(async () => {
  world = await webWorld();
  invoice = (await world.billing.invoices(ACCOUNT_A))[0]!;
});
after(async () => {
  await world?.close();
});
const { signIn } = webClient(() => world);

/** The invoice paid, as charging leaves it, with `refunded` of it given back (charge.refunded's amount_refunded). */
async function paidAndRefunded(refunded: string): Promise<void> {
  const pool = world.db.pool;
  await pool.query('delete from invoicing.charges where invoice_id = $1', [invoice.id]);
  await pool.query(`insert into invoicing.charges (invoice_id, state, attempts, paid_at) values ($1, 'paid', 1, '2026-11-04T09:30:00Z')`, [
    invoice.id,
  ]);
  await pool.query(
    `update invoicing.invoices set amount_refunded = $2::numeric,
            status = case when $2::numeric = total then 'refunded' else 'paid' end
      where id = $1`,
    [invoice.id, refunded],
  );
}

describe('the invoice list says what of a paid invoice was refunded (Chromium)', { timeout: 120_000 }, () => {
  let browser: Browser;
  let page: Page;
  /** The invoice list's row of A's October invoice: its status and total cells, as the customer reads them. */
  const listRow = async () => {
    assert.equal((await page.goto(`${world.base}/invoices`))?.status(), 200);
    const row = page.locator('table.invoices tbody tr', { has: page.locator(`a[href="/invoices/${invoice.id}"]`) });
    return {
      status: await row.locator('td[data-label="Status"]').innerText(),
      total: await row.locator('td[data-label="Total"]').innerText(),
    };
  };

  before(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
    const context = await browser.newContext();
    await context.addCookies([{ name: 'vault_session', value: await signIn(ACCOUNT_A), url: world.base }]);
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
  });

  test('paid, nothing refunded: "paid", the total beside it', async () => {
    await paidAndRefunded('0.00');
    assert.deepEqual(await listRow(), { status: 'paid', total: '$52.58' });
  });

  test('paid, $30.00 of $52.58 refunded: "paid, $30.00 refunded" in the list, the invoice page’s tag and the usage page’s', async () => {
    await paidAndRefunded('30.00');
    assert.deepEqual(await listRow(), { status: 'paid, $30.00 refunded', total: '$52.58' });
    // Still paid (the green of paid), the amount given back from our record.
    const tag = page.locator(`a[href="/invoices/${invoice.id}"]`).locator('xpath=ancestor::tr').locator('.tag');
    assert.equal(await tag.getAttribute('class'), 'tag status-paid');
    assert.equal(await tag.locator('[data-partly-refunded]').getAttribute('data-partly-refunded'), '30.00');

    await page.goto(`${world.base}/invoices/${invoice.id}`);
    assert.equal(await page.locator('h1 .tag').innerText(), 'paid, $30.00 refunded');
    assert.match(await page.locator('section.payment').innerText(), /\$30\.00 of \$52\.58 was refunded to your card\./);
    await page.goto(`${world.base}/usage?period=2026-10`);
    assert.equal(await page.locator('h1 .tag').innerText(), 'paid, $30.00 refunded');
  });

  test('refunded whole: "refunded", never "paid"', async () => {
    await paidAndRefunded('52.58');
    assert.deepEqual(await listRow(), { status: 'refunded', total: '$52.58' });
  });

  test('another account’s invoice list is its own: B’s paid invoice says nothing of A’s refund', async () => {
    await paidAndRefunded('30.00');
    const other = await browser.newContext();
    try {
      await other.addCookies([{ name: 'vault_session', value: await signIn(ACCOUNT_B), url: world.base }]);
      const b = await other.newPage();
      await b.goto(`${world.base}/invoices`);
      assert.doesNotMatch(await b.locator('table.invoices').innerText(), /refunded/);
    } finally {
      await other.close();
    }
  });

  test('finance’s invoices.csv tells the same: status paid, amount_refunded 30.00, the total unchanged', async () => {
    await paidAndRefunded('30.00');
    const res = await fetch(`${world.base}/v1/exports/invoices.csv?period=2026-10`, {
      headers: { authorization: `Bearer ${world.financeToken}` },
    });
    assert.equal(res.status, 200);
    const [header, ...rows] = parseCsv(await res.text());
    const column = (name: string) => header!.indexOf(name);
    const row = rows.find((r) => unguardText(r[column('id')]!) === invoice.id)!;
    assert.deepEqual(
      ['status', 'total', 'amount_refunded'].map((name) => row[column(name)]),
      ['paid', '52.58', '30.00'],
    );
  });
});
