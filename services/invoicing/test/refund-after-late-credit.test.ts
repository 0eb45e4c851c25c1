// A refund or chargeback recorded after its month was given a late credit (R4 finding 2;
// docs/contracts/invoicing.md, "Late credits after a refund or chargeback"): money does not move
// for it, but operators are warned once (charge.refund_after_late_credit) with what the month kept.
// October's 25.00 (a standard-1x dyno running all month) is paid; a stop timed October 2 arrives
// late and November credits −24.19; then October is refunded 25.00 (49.19 back on 25.00), or
// charged back 10.00. Also a cut credit through the real store (R4 finding 1): a 10.00 chargeback
// open when November is finalized cuts the credit to 15.00, and December gives the rest once it is
// won; each line's quantity × unit price is its amount, within a cent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decimal } from 'decimal.js';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { DISPUTE_REINSTATED, DISPUTE_WITHDRAWN } from '../src/charging/disputes.ts';
import { lateCreditDatabase, lateCreditWorld } from './late-credit-fixture.ts';

const ACCOUNTS = ['ra-refund', 'ra-back', 'ra-plain', 'ra-cut'] as const;

describe('a refund or chargeback after its month was given a late credit (real PostgreSQL, finalize, webhooks)', () => {
  let db: TestDatabase;
  const log = memoryLogger();
  before(async () => {
    db = await lateCreditDatabase();
  });
  after(() => db?.drop());

  const { finalize, deliver, seedMonths, stopLearnedLate, pay, refund, dispute } = lateCreditWorld(() => db.pool, {
    paymentMethod: 'pm_ok_refund_after',
    log,
  });
  const warned = () => log.lines.filter((l) => l.includes('charge.refund_after_late_credit'));
  const octoberCredits = async (account: string) =>
    (
      await db.pool.query<{ on: string; quantity: string; unit_price: string; amount: string }>(
        `select i.period as on, l.quantity::text, l.unit_price::text, l.amount::text
           from invoicing.invoice_lines l join invoicing.invoices i on i.number = l.invoice_number
          where i.account_id = $1 and l.kind = 'adjustment' and l.adjusts = '2025-10' order by i.period`,
        [account],
      )
    ).rows;
  const withinCent = (l: { quantity: string; unit_price: string; amount: string }) =>
    new Decimal(l.quantity).times(l.unit_price).minus(l.amount).abs().lte('0.01');

  test('warned once with what the month kept; no warning without a late credit; a cut credit and its rest match their quantities', async () => {
    await seedMonths(ACCOUNTS);
    await finalize('2025-10', '2025-11-04T00:00:00Z');
    const paid = new Map<string, { id: string; pi: string }>();
    for (const account of ACCOUNTS) paid.set(account, await pay(account));
    // Before any late credit: a 10.00 chargeback of ra-cut's October, and a refund of ra-plain's (no credit yet: no warning).
    assert.equal((await deliver('evt_dw_cut', DISPUTE_WITHDRAWN, dispute(paid.get('ra-cut')!, 1000))).outcome, 'dispute_withdrawn');
    assert.equal((await refund(paid.get('ra-plain')!, 500)).outcome, 'partly_refunded');
    assert.deepEqual(warned(), [], 'nothing was credited to October yet');
    for (const account of ['ra-refund', 'ra-back', 'ra-cut']) await stopLearnedLate(account);
    await finalize('2025-11', '2025-12-04T00:00:00Z');
    assert.deepEqual(
      (await octoberCredits('ra-refund')).map((l) => `${l.on} ${l.quantity} × ${l.unit_price} = ${l.amount}`),
      ['2025-11 -0.9677419 × 25.00 = -24.19'],
    );
    const [cut] = await octoberCredits('ra-cut');
    assert.equal(cut!.amount, '-15.00', 'the 10.00 chargeback open: October keeps 15.00');
    assert.ok(withinCent(cut!), `the cut credit: ${cut!.quantity} × ${cut!.unit_price} is ${cut!.amount}`);

    // Now October is refunded whole: 49.19 back on 25.00, for operators to settle.
    const refunded = paid.get('ra-refund')!;
    assert.equal((await refund(refunded, 2500)).outcome, 'refunded');
    assert.equal(warned().length, 1, 'the refund after the credit is warned, once');
    const [one] = warned();
    assert.match(one!, /^at=warn event=charge.refund_after_late_credit /);
    assert.match(one!, new RegExp(`invoice_id=${refunded.id}`));
    for (const field of ['by=refund', 'month=2025-10', 'amount_refunded=25.00', 'amount_disputed=0.00', 'credited=24.19', 'charged=25.00'])
      assert.ok(one!.includes(field), `${field} in ${one}`);
    assert.match(one!, /kept=-24\.19 over=24\.19/);
    // The same refund delivered again is a duplicate, and not warned again.
    assert.equal((await refund(refunded, 2500)).outcome, 'duplicate');
    assert.equal(warned().length, 1);

    // A 10.00 chargeback after the credit: over by 9.19.
    const back = paid.get('ra-back')!;
    assert.equal((await deliver('evt_dw_back', DISPUTE_WITHDRAWN, dispute(back, 1000))).outcome, 'dispute_withdrawn');
    const chargeback = warned()[1]!;
    for (const field of ['by=chargeback', `invoice_id=${back.id}`, 'amount_disputed=10.00', 'credited=24.19', 'kept=-9.19', 'over=9.19'])
      assert.ok(chargeback.includes(field), `${field} in ${chargeback}`);
    assert.equal(warned().length, 2);

    // ra-cut's chargeback is won: December gives the rest of October's credit, its quantity matching.
    const won = paid.get('ra-cut')!;
    assert.equal((await deliver('evt_dr_cut', DISPUTE_REINSTATED, dispute(won, 1000))).outcome, 'dispute_reinstated');
    await finalize('2025-12', '2026-01-04T00:00:00Z');
    const [, rest] = await octoberCredits('ra-cut');
    assert.equal(rest?.amount, '-9.19', 'the rest, once the chargeback is won');
    assert.ok(withinCent(rest!), `the rest: ${rest!.quantity} × ${rest!.unit_price} is ${rest!.amount}`);
    assert.equal(warned().length, 2, 'a reinstatement is not warned');
  });
});
