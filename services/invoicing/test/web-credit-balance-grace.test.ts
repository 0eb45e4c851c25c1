// The invoice list's credit balance in the grace period (R2 F1): on December 2
// November has ended, has no invoice yet and is due December 4, so the invoice
// finalized next is November's, which takes the credit first. The list judged
// the balance against December's due time (January 4) instead, and said a lot
// expiring December 20 "will not pay" while November's invoice was using it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Invoice } from '@vault/contracts';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { invoicingRoutes } from '../src/app.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { ACCOUNT_A, ACCOUNT_B, webClient, webWorld, type WebWorld } from './web-fixture.ts';

const at = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' });
const billingAt = (world: WebWorld, iso: string) =>
  createBilling({ pool: world.db.pool, prices: loadPriceBook(), graceHours: 72, now: () => at(iso) });

let world: WebWorld;
/** The same database seen on December 2 at noon: the app's billing clock moved on. */
let december: WebWorld;
let http: FastifyInstance;
before(async () => {
  world = await webWorld();
  const billing = billingAt(world, '2026-12-02T12:00:00Z');
  http = createHttpApp(memoryLogger({ app: 'invoicing' }));
  invoicingRoutes(http, { pool: world.db.pool, billing, prices: loadPriceBook(), adminToken: world.adminToken, log: world.log });
  await http.listen({ port: 0, host: '127.0.0.1' });
  const { port } = http.server.address() as { port: number };
  december = { ...world, billing, http, base: `http://127.0.0.1:${port}` };
});
after(async () => {
  await http?.close();
  await world?.close();
});
const { get, signIn, api } = webClient(() => december);

/** The invoice list's balance paragraph, as text. */
async function balanceText(account: string): Promise<string> {
  const list = (await get('/invoices', await signIn(account))).body;
  const p = /<p class="balance">([\s\S]*?)<\/p>/.exec(list)?.[1] ?? '';
  return p
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('the credit balance on the invoice list in the grace period (viewed Dec 2; November is due Dec 4, December Jan 4)', () => {
  test('a lot expiring Dec 20 pays the November invoice issued next, and is said to; one expiring Dec 3 pays none', async () => {
    // A's November: web.1 standard-1x all month and the Postgres add-on, 30.00, no invoice yet.
    await december.billing.grantCredit(ACCOUNT_A, { id: 'g-dec20', amount: '10.00', reason: 'promo', expires_at: '2026-12-20T00:00:00Z' });
    await december.billing.grantCredit(ACCOUNT_A, { id: 'g-dec03', amount: '4.00', reason: 'promo', expires_at: '2026-12-03T00:00:00Z' });
    const text = await balanceText(ACCOUNT_A);
    assert.equal(
      text,
      'Your credit balance: $14.00 $4.00 of it expires on Dec 3, 2026, before your November 2026 invoice is issued, so it will not pay that invoice. ' +
        'The other $10.00 pays your next invoices first, starting with your November 2026 invoice ($10.00 of it expires on Dec 20, 2026).',
    );
    assert.doesNotMatch(text, /December 2026 invoice/);

    // The words match November's draft, and the invoice finalize then writes.
    const draft = await api<Invoice>(`/v1/accounts/${ACCOUNT_A}/usage?period=2026-11`, world.adminToken);
    assert.equal(draft.subtotal, '30.00');
    assert.equal(draft.credit_applied, '10.00', 'November’s draft uses the Dec 20 lot, not the Dec 3 one');
    await billingAt(world, '2026-12-04T00:05:00Z').finalize('2026-11');
    const invoice = await billingAt(world, '2026-12-04T00:05:00Z').draft(ACCOUNT_A, '2026-11');
    assert.equal(invoice.status, 'finalized');
    assert.deepEqual([invoice.subtotal, invoice.credit_applied, invoice.total], ['30.00', '10.00', '20.00']);
  });

  test('with no November invoice to come (no usage in it), the same lot is judged against December, and pays none of it', async () => {
    // B's blog ran only in October: November has nothing to bill, so December's invoice is the next one.
    await december.billing.grantCredit(ACCOUNT_B, {
      id: 'g-b-dec20',
      amount: '10.00',
      reason: 'promo',
      expires_at: '2026-12-20T00:00:00Z',
    });
    assert.equal(
      await balanceText(ACCOUNT_B),
      'Your credit balance: $10.00 It expires on Dec 20, 2026, before your December 2026 invoice is issued, so it will not pay that invoice.',
    );
  });
});
