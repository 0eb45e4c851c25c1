// While last month has ended but is not finalized yet (the first
// INVOICE_GRACE_HOURS of a month), finalize will settle it before this month:
// it takes the credit it uses, the late adjustments and the small totals it
// carries, and leaves what a negative subtotal or a small total of its own
// adds. This month's draft, projection and usage page must be built from what
// it leaves (docs/contracts/invoicing.md, Credits: a draft shows the credit it would use). Each
// account's projection on the 2nd is checked against the invoice finalize then
// writes, to the cent, with the clock moved as credits-draft-expiry.test.ts
// does. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { Invoice } from '@vault/contracts';
import type { TestDatabase } from '@vault/testkit';
import { creditLots } from '../src/billing/credit-store.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { carriedLine, remainderLot } from '../src/domain/credit.ts';
import { afterPrevious } from '../src/domain/draft.ts';
import { draftInvoice } from '../src/domain/invoice.ts';
import { parsePeriod } from '../src/domain/period.ts';
import { basicDyno, billingDatabase, seedOwners, seedStop, seedUsage } from './seed.ts';

const prices = loadPriceBook();

/** What an invoice bills, to the cent: its money and its lines (a draft's carried line has no number yet). */
const billed = (i: Invoice) => ({
  subtotal: i.subtotal,
  credit_applied: i.credit_applied,
  total: i.total,
  lines: i.lines.map((l) => [l.kind, l.app_id, l.kind === 'carried' ? '' : l.key, l.product, l.quantity, l.amount, l.adjusts ?? null]),
});

describe('a draft while the month before is not finalized yet is what finalize then writes', () => {
  let db: TestDatabase;
  let clock = DateTime.fromISO('2026-09-01T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  const at = (iso: string) => {
    clock = DateTime.fromISO(iso, { zone: 'utc' });
  };
  const invoiceOf = async (account: string, period: string) => {
    const found = (await billing.invoices(account)).find((i) => i.period === period);
    assert.ok(found, `${account} has an invoice of ${period}`);
    return found;
  };
  /** Each account's projection of a month on its 2nd (the usage page's is the same), kept to compare with its invoice. */
  const projected = new Map<string, Invoice>();
  const project = async (accounts: readonly string[]) => {
    for (const account of accounts) {
      const p = await billing.projection(account);
      const page = await billing.usageView(account);
      assert.deepEqual(page.projection, p, `${account}: the usage page's projection is the API's`);
      assert.deepEqual(page.draft, await billing.draft(account), `${account}: the usage page's draft is the API's`);
      projected.set(`${account} ${p.period}`, p);
    }
  };
  const projection = (account: string, period: string) => projected.get(`${account} ${period}`)!;
  /** Every account at once, so a failure shows each one that differs. */
  const matches = async (accounts: readonly string[], period: string) => {
    const invoices: Record<string, unknown> = {};
    const projections: Record<string, unknown> = {};
    for (const account of accounts) {
      invoices[account] = billed(await invoiceOf(account, period));
      projections[account] = billed(projection(account, period));
    }
    assert.deepEqual(invoices, projections, `${period}'s invoices and their projections on the 2nd`);
  };

  before(async () => {
    db = await billingDatabase();
    billing = createBilling({ pool: db.pool, prices, graceHours: 72, now: () => clock });
    const owner = (account: string, from: string) => ({ app: `${account}-app`, account, from, learnedAt: from });
    await seedOwners(db.pool, [
      owner('p1', '2026-10-01T00:00:00Z'),
      owner('p1x', '2026-10-01T00:00:00Z'),
      owner('p2', '2026-10-01T00:00:00Z'),
      owner('p3', '2026-09-01T00:00:00Z'),
      owner('p4', '2026-09-01T00:00:00Z'),
      owner('p5', '2026-10-01T00:00:00Z'),
      owner('held', '2026-09-01T00:00:00Z'),
    ]);
    const learned = '2026-09-01T00:00:00Z';
    await seedUsage(db.pool, [
      // P1 (and p1x): a basic dyno (7.00 a month) running through October and November, and on.
      basicDyno('p1-app', '2026-10-01T00:00:00Z', undefined, learned),
      basicDyno('p1x-app', '2026-10-01T00:00:00Z', undefined, learned),
      // P2: web.1 billed to October's end, stopped on October 16 as learned after October's invoice; worker.1 runs on.
      basicDyno('p2-app', '2026-10-01T00:00:00Z', undefined, learned),
      basicDyno('p2-app', '2026-10-01T00:00:00Z', undefined, learned, 'worker.1'),
      // P3: two days of September, 7.00 × 2/30 = 0.47, below the smallest charge; then a dyno from October on.
      basicDyno('p3-app', '2026-09-01T00:00:00Z', '2026-09-03T00:00:00Z', learned),
      basicDyno('p3-app', '2026-10-01T00:00:00Z', undefined, learned, 'worker.1'),
      // A negative October: September billed 25.00 for web.1 learned late to have run a day (a credit of 24.17).
      { app: 'p4-app', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-09-01T00:00:00Z', learnedAt: learned },
      basicDyno('p4-app', '2026-10-01T00:00:00Z', undefined, learned, 'worker.1'),
      // A small October of its own: one day, 7.00 × 1/31 = 0.23; worker.1 from November on.
      basicDyno('p5-app', '2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z', learned),
      basicDyno('p5-app', '2026-11-01T00:00:00Z', undefined, learned, 'worker.1'),
      // Held: September's 0.47; October holds on a product without a price; worker.1 runs from October on.
      basicDyno('held-app', '2026-09-01T00:00:00Z', '2026-09-03T00:00:00Z', learned),
      {
        app: 'held-app',
        kind: 'dyno',
        key: 'other.1',
        product: 'dyno:quantum-9x',
        from: '2026-10-01T00:00:00Z',
        to: '2026-10-03T00:00:00Z',
        learnedAt: learned,
      },
      basicDyno('held-app', '2026-10-01T00:00:00Z', undefined, learned, 'worker.1'),
    ]);
  });
  after(async () => {
    await db?.drop();
  });

  test('September is finalized; grants on October 5; September’s web.1 of p4 stopped after its first day, learned late', async () => {
    at('2026-10-04T00:00:00Z');
    await billing.finalize('2026-09');
    assert.equal((await invoiceOf('p3', '2026-09')).total, '0.47');
    assert.equal((await invoiceOf('held', '2026-09')).total, '0.47');
    assert.equal((await invoiceOf('p4', '2026-09')).total, '25.00');
    at('2026-10-05T00:00:00Z');
    // p1x's expires after October is due (November 4), before November is (December 4).
    const expiry: Record<string, string> = { p1x: '2026-11-20T00:00:00Z' };
    for (const account of ['p1', 'p1x', 'held']) {
      const expires = expiry[account] === undefined ? {} : { expires_at: expiry[account] };
      const granted = await billing.grantCredit(account, { id: `g-${account}`, amount: '10.00', reason: 'goodwill', ...expires });
      assert.equal(granted.outcome, 'created');
    }
    await seedStop(db.pool, 'p4-app', 'web.1', '2026-09-02T00:00:00Z');
  });

  /** What each account's October draft and November projection said on November 2. */
  const november2 = new Map<string, { october: Invoice; november: Invoice }>();
  const money = (i: Invoice) => [i.subtotal, i.credit_applied, i.total];

  test('November 2: October is still a draft (due November 4); each account’s projection of November is read', async () => {
    at('2026-11-02T00:00:00Z');
    await project(['p1', 'p1x', 'p3', 'p4', 'p5', 'held']);
    for (const account of ['p1', 'p1x', 'p3', 'p4', 'p5', 'held']) {
      november2.set(account, { october: await billing.draft(account, '2026-10'), november: projection(account, '2026-11') });
    }
    // November 2's draft of P1 (a day of November, 0.23) is built from what October leaves too.
    assert.deepEqual(money(await billing.draft('p1')), ['0.23', '0.23', '0.00']);
  });

  test('P1: October uses 7.00 of a 10.00 grant; November’s projection uses the 3.00 left (total 4.00, not 0.00)', () => {
    const { october, november } = november2.get('p1')!;
    assert.deepEqual(money(october), ['7.00', '7.00', '0.00']);
    assert.deepEqual(money(november), ['7.00', '3.00', '4.00']);
  });

  test('a grant October uses that expires before November is due: November gets nothing of it', () => {
    const { october, november } = november2.get('p1x')!;
    assert.deepEqual(money(october), ['7.00', '7.00', '0.00']);
    assert.deepEqual(money(november), ['7.00', '0.00', '7.00']);
  });

  test('P3: September’s 0.47 rides with October’s invoice only: November’s projection is 7.00, not 7.47', () => {
    const { october, november } = november2.get('p3')!;
    assert.deepEqual(money(october), ['7.47', '0.00', '7.47']);
    assert.deepEqual(money(november), ['7.00', '0.00', '7.00']);
    assert.ok(!november.lines.some((l) => l.kind === 'carried'));
  });

  test('a negative October (a late credit of 24.17): the adjustment is October’s, and its rest, 17.17, pays November', () => {
    const { october, november } = november2.get('p4')!;
    assert.deepEqual(money(october), ['-17.17', '0.00', '0.00']);
    assert.deepEqual(money(november), ['7.00', '7.00', '0.00']);
    assert.ok(!november.lines.some((l) => l.kind === 'adjustment'), 'the adjustment is not repeated');
  });

  test('an October total below the smallest charge (0.23): November’s projection carries it as October’s line', () => {
    const { october, november } = november2.get('p5')!;
    assert.deepEqual(money(october), ['0.23', '0.00', '0.23']);
    assert.deepEqual(money(november), ['7.23', '0.00', '7.23']);
    const carried = november.lines.filter((l) => l.kind === 'carried').map((l) => [l.adjusts, l.amount, l.description]);
    assert.deepEqual(carried, [
      ['2026-10', '0.23', 'Carried from 2026-10 (not finalized yet): 0.23 USD is below the smallest charge of 0.50 USD'],
    ]);
  });

  test('a held October (a product without a price) changes nothing: November carries September’s 0.47 and uses the credit, as before', () => {
    const { october, november } = november2.get('held')!;
    assert.deepEqual(
      october.holds.map((h) => h.reason),
      ['unpriced'],
    );
    assert.deepEqual(money(october), ['7.47', '7.47', '0.00']);
    assert.deepEqual(money(november), ['7.47', '7.47', '0.00']);
  });

  test('November 4: October is finalized as its drafts said; p4’s rest is the never-expiring lot its draft assumed', async () => {
    at('2026-11-04T00:00:00Z');
    await billing.finalize('2026-10');
    for (const account of ['p1', 'p1x', 'p3', 'p4', 'p5']) {
      assert.deepEqual(billed(await invoiceOf(account, '2026-10')), billed(november2.get(account)!.october), account);
    }
    assert.equal((await billing.invoices('held')).filter((i) => i.period === '2026-10').length, 0, 'October stays held');
    // Its amount, no expiry, dated at the run that settled October (the draft's settling: October's due time).
    const october = await invoiceOf('p4', '2026-10');
    const [lot, ...others] = (await creditLots(db.pool, ['p4'], clock.toJSDate())).get('p4') ?? [];
    assert.equal(others.length, 0);
    assert.deepEqual({ ...lot, id: '' }, { ...remainderLot('', october.subtotal, clock.toJSDate()), id: '' });
    // p2: web.1 stopped on October 16, learned after October's invoice (7.00 for it, 3.39 now).
    at('2026-11-10T00:00:00Z');
    await seedStop(db.pool, 'p2-app', 'web.1', '2026-10-16T00:00:00Z');
  });

  test('December 2, P2: November’s draft carries the late credit of October; December’s projection does not repeat it', async () => {
    at('2026-12-02T00:00:00Z');
    const november = await billing.draft('p2', '2026-11');
    assert.deepEqual(
      november.lines.filter((l) => l.kind === 'adjustment').map((l) => [l.adjusts, l.amount]),
      [['2026-10', '-3.61']],
    );
    await project(['p1', 'p1x', 'p2', 'p3', 'p4', 'p5', 'held']);
    const december = projection('p2', '2026-12');
    assert.deepEqual(money(december), ['7.00', '0.00', '7.00']);
    assert.ok(!december.lines.some((l) => l.kind === 'adjustment'));
  });

  test('December 4: each November invoice is its projection on November 2, to the cent', async () => {
    at('2026-12-04T00:00:00Z');
    await billing.finalize('2026-11');
    await matches(['p1', 'p1x', 'p3', 'p4', 'p5', 'held'], '2026-11');
    assert.equal((await invoiceOf('p2', '2026-11')).subtotal, '3.39');
  });

  test('January 4: each December invoice is its projection on December 2, to the cent', async () => {
    at('2027-01-04T00:00:00Z');
    await billing.finalize('2026-12');
    await matches(['p1', 'p1x', 'p2', 'p3', 'p4', 'p5', 'held'], '2026-12');
  });
});

describe('afterPrevious (pure)', () => {
  const october = parsePeriod('2026-10');
  const lot = { id: 'g', remaining: '10.00', expiresAt: null, at: new Date('2026-10-05T00:00:00Z') };
  const line = (amount: string) => ({
    app_id: 'a',
    kind: 'dyno' as const,
    key: 'web.1',
    product: 'dyno:basic',
    quantity: '1.0000000',
    unit_price: '7.00',
    amount,
    description: 'web.1 basic',
    ms: 1,
  });
  const terms = { minimum: '0.50', settledAt: new Date('2026-11-04T00:00:00Z') };
  const facts = { adjustments: [], lots: [lot], small: [{ number: '2026-09-000001', period: '2026-09', total: '0.47' }] };

  test('a held month before, or one with nothing to bill, takes nothing', () => {
    const held = draftInvoice('x', october, 'USD', [line('7.00')], [{ reason: 'gap', app_id: 'a', detail: '' }], [lot]);
    assert.deepEqual(afterPrevious(held, facts, terms), facts);
    assert.deepEqual(afterPrevious(draftInvoice('x', october, 'USD', [], [], [lot]), facts, terms), facts);
  });

  test('a ready month before: its credit uses come off the lots, and its small total is carried', () => {
    // 6.73 of October and September's 0.47 carried, less 7.00 of credit: 0.20.
    const carried = carriedLine(facts.small[0]!, '0.50', 'USD');
    const small = draftInvoice('x', october, 'USD', [line('6.73'), carried], [], [{ ...lot, remaining: '7.00' }]);
    const left = afterPrevious(small, { ...facts, lots: [{ ...lot, remaining: '7.00' }] }, terms);
    assert.deepEqual(left.lots, []);
    assert.deepEqual(left.small, [{ number: null, period: '2026-10', total: '0.20' }]);
  });

  test('a negative month before: its adjustments are not repeated, and its rest is a never-expiring lot dated at its settling', () => {
    const credit = { ...line('-12.00'), kind: 'adjustment' as const, adjusts: '2026-09', description: 'Credit for 2026-09' };
    const negative = draftInvoice('x', october, 'USD', [line('7.00'), credit], [], [lot]);
    const left = afterPrevious(negative, { ...facts, adjustments: [credit], small: [] }, terms);
    assert.deepEqual(left.adjustments, []);
    assert.deepEqual(left.lots, [lot, { id: `remainder:${negative.id}`, remaining: '5.00', expiresAt: null, at: terms.settledAt }]);
  });
});
