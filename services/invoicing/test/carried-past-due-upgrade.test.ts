// A database upgraded from before the gateway's published minimums (2026-12-06):
// the older release took 1 minor unit as the smallest SEK charge, so a SEK 2.00
// invoice (Stripe's minimum is 3.00) was sent, refused amount_too_small until
// past_due, and its account suspended. This release never charges it, and the
// standing review never suspends over it and reinstates an account it alone
// keeps suspended; the next finalize carries it like a finalized small invoice
// (status `carried`, its line on the next invoice, invoice.carried once) and
// reinstates an account still suspended when nothing else is past due. One that
// was charged (a PaymentIntent made, declined) before GATEWAY_MINIMUM_CHARGE was
// raised above its total is never carried: its PaymentIntent may still be paid
// on the card form. Real PostgreSQL; the legacy rows (its suspension too) are
// written as the older release left them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { minimumChargeAmount } from '../src/charging/amount.ts';
import { decide } from '../src/charging/decide.ts';
import { accountNotice, invoiceNotice } from '../src/notices/notice.ts';
import { noticesOf, recordNotice } from '../src/notices/outbox.ts';
import { basicDyno, billingDatabase, seedOwners, seedUsage } from './seed.ts';

const dir = mkdtempSync(join(tmpdir(), 'carried-past-due-'));
const SEK_BOOK = join(dir, 'sek.json');
writeFileSync(SEK_BOOK, JSON.stringify({ currency: 'SEK', products: { 'dyno:basic': '60.00' } }));

interface Row {
  id: string;
  number: string;
  status: string;
  total: string;
}

describe('a small invoice an older release made past_due (SEK 2.00 below Stripe’s 3.00), after the upgrade', () => {
  let db: TestDatabase;
  let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
  let billing: ReturnType<typeof createBilling>;
  const invoiceOf = async (account: string, period: string) =>
    (
      await db.pool.query<Row>('select id, number, status, total::text from invoicing.invoices where account_id = $1 and period = $2', [
        account,
        period,
      ])
    ).rows[0]!;
  const linesOf = async (invoiceId: string) =>
    (
      await db.pool.query<{ kind: string; key: string; amount: string; adjusts: string | null }>(
        'select kind, key, amount::text, adjusts from invoicing.invoice_lines where invoice_id = $1 order by position',
        [invoiceId],
      )
    ).rows;
  const standing = async (account: string) =>
    (
      await db.pool.query<{ suspended_at: Date | null; reinstated_at: Date | null }>(
        'select suspended_at, reinstated_at from invoicing.account_standing where account_id = $1',
        [account],
      )
    ).rows[0];
  const review = () =>
    reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 7 * 24 * 3600,
      minimum: minimumChargeAmount('SEK'),
      now: () => clock.toJSDate(),
    });

  /**
   * What the older release left: the invoice past_due after its refused (or declined) attempts, told once.
   * A refused create made no PaymentIntent; a declined confirm leaves `paymentIntent` payable.
   */
  async function leftPastDue(
    invoice: Row,
    account: string,
    period: string,
    pastDueAt: string,
    code = 'amount_too_small',
    paymentIntent: string | null = null,
  ) {
    const message = code === 'amount_too_small' ? 'Amount must be at least kr 3.00 sek' : 'Your card was declined.';
    await withTransaction(db.pool, async (client) => {
      await client.query(`update invoicing.invoices set status = 'past_due' where id = $1`, [invoice.id]);
      await client.query(
        `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, round_start, last_payment_method_id,
                                        last_attempt_at, last_error_code, last_error_message, past_due_at)
         values ($1, $5, 'past_due', 4, 0, 'pm_sek', $2, $3, $4, $2)`,
        [invoice.id, pastDueAt, code, message, paymentIntent],
      );
      const facts = { ...invoice, accountId: account, period, currency: 'SEK', status: 'past_due' };
      await recordNotice(
        client,
        invoiceNotice(
          'invoice.past_due',
          facts,
          new Date(pastDueAt),
          code === 'amount_too_small' ? { reason: 'refused', message } : { reason: 'declined' },
        ),
      );
    });
  }

  /** What the older release's standing review left: the account suspended over `invoices`, told once. */
  async function leftSuspended(account: string, invoices: Row[], pastDueSince: string, at: string) {
    await withTransaction(db.pool, async (client) => {
      await client.query('insert into invoicing.account_standing (account_id, suspended_at, suspensions) values ($1, $2, 1)', [
        account,
        at,
      ]);
      await recordNotice(
        client,
        accountNotice('account.suspended', account, 1, new Date(at), {
          invoice_ids: invoices.map((x) => x.id),
          past_due_since: new Date(pastDueSince).toISOString(),
        }),
      );
    });
  }

  before(async () => {
    db = await billingDatabase();
    billing = createBilling({ pool: db.pool, prices: loadPriceBook(SEK_BOOK), graceHours: 72, now: () => clock });
    // acct-legacy: past_due SEK 2.00, nothing else owed. acct-owes: the same, and its August
    // (SEK 38.71) past due for a declined card. acct-fresh: SEK 2.00 finalized by this release, as any small invoice is.
    // acct-charged: SEK 2.00 charged and declined to past_due when its minimum was lower, its PaymentIntent still payable.
    // acct-recent: SEK 2.00 left past_due 3 days before the upgrade, not suspended yet. acct-unreviewed: as acct-legacy,
    // but no review has run since the upgrade when the next finalize carries it (its legacy rows written just before).
    const accounts = ['acct-legacy', 'acct-owes', 'acct-fresh', 'acct-charged', 'acct-recent', 'acct-unreviewed'];
    await seedOwners(
      db.pool,
      accounts.map((account) => ({ app: `${account}-app`, account, from: '2026-08-01T00:00:00Z' })),
    );
    await seedUsage(
      db.pool,
      accounts.flatMap((account) => [
        // September: 1/30 × 60.00 = 2.00. October: 2/31 × 60.00 = 3.87, + 2.00 carried = 5.87.
        basicDyno(`${account}-app`, '2026-09-10T00:00:00Z', '2026-09-11T00:00:00Z'),
        basicDyno(`${account}-app`, '2026-10-10T00:00:00Z', '2026-10-12T00:00:00Z'),
      ]),
    );
    // acct-owes' August: 20 of 31 days × 60.00 = 38.71, not small.
    await seedUsage(db.pool, [basicDyno('acct-owes-app', '2026-08-01T00:00:00Z', '2026-08-21T00:00:00Z', undefined, 'web.2')]);
    clock = DateTime.fromISO('2026-09-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-08');
    clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-09');
    for (const account of accounts) assert.deepEqual((await invoiceOf(account, '2026-09')).total, '2.00');
    await leftPastDue(await invoiceOf('acct-legacy', '2026-09'), 'acct-legacy', '2026-09', '2026-10-13T00:00:00Z');
    await leftPastDue(await invoiceOf('acct-owes', '2026-09'), 'acct-owes', '2026-09', '2026-10-13T00:00:00Z');
    await leftPastDue(await invoiceOf('acct-owes', '2026-08'), 'acct-owes', '2026-08', '2026-09-13T00:00:00Z', 'card_declined');
    const charged = await invoiceOf('acct-charged', '2026-09');
    await leftPastDue(charged, 'acct-charged', '2026-09', '2026-10-13T00:00:00Z', 'card_declined', `pi_${charged.id}`);
    await leftPastDue(await invoiceOf('acct-recent', '2026-09'), 'acct-recent', '2026-09', '2026-10-18T00:00:00Z');
    // The older release's standing review: past due over 7 days, suspended.
    const suspendedAt = '2026-10-21T00:00:00Z';
    await leftSuspended('acct-legacy', [await invoiceOf('acct-legacy', '2026-09')], '2026-10-13T00:00:00Z', suspendedAt);
    const owes = [await invoiceOf('acct-owes', '2026-08'), await invoiceOf('acct-owes', '2026-09')];
    await leftSuspended('acct-owes', owes, '2026-09-13T00:00:00Z', suspendedAt);
    await leftSuspended('acct-charged', [charged], '2026-10-13T00:00:00Z', suspendedAt);
    // This release is deployed.
    clock = DateTime.fromISO('2026-10-21T00:00:00Z', { zone: 'utc' });
  });
  after(async () => {
    await db?.drop();
  });

  test('this release never charges it; its standing review never suspends over it (past due 8 days) and reinstates the account it alone kept suspended; the next month’s draft carries it', async () => {
    const september = await invoiceOf('acct-legacy', '2026-09');
    assert.deepEqual(
      decide(
        { id: september.id, accountId: 'acct-legacy', number: september.number, status: 'past_due', currency: 'SEK', total: '2.00' },
        undefined,
        { customerId: 'cus_sek', paymentMethodId: 'pm_other' },
        clock.toJSDate(),
      ),
      { do: 'nothing', why: 'below_minimum' },
    );
    // 5 days after the upgrade: acct-recent's has been past due 8 days (SUSPEND_PAST_DUE_AFTER here 7).
    clock = clock.plus({ days: 5 });
    assert.deepEqual(await review(), { suspended: 0, reinstated: 1 });
    assert.equal(await standing('acct-recent'), undefined, 'never suspended over a total it will not charge');
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-recent')).map((n) => n.type),
      ['invoice.finalized', 'invoice.past_due'],
    );
    assert.equal((await standing('acct-legacy'))?.suspended_at, null);
    assert.deepEqual((await standing('acct-legacy'))?.reinstated_at, clock.toJSDate());
    // An invoice owed above the minimum (August's 38.71), or one with a PaymentIntent, still keeps its account suspended.
    assert.notEqual((await standing('acct-owes'))?.suspended_at, null);
    assert.notEqual((await standing('acct-charged'))?.suspended_at, null);
    assert.deepEqual(await review(), { suspended: 0, reinstated: 0 });
    const draft = await billing.draft('acct-legacy', '2026-10');
    assert.deepEqual(
      draft.lines.filter((l) => l.kind === 'carried').map((l) => [l.key, l.amount, l.adjusts]),
      [[september.number, '2.00', '2026-09']],
    );
    assert.equal(draft.total, '5.87');
  });

  test('finalizing October carries it (status carried, its line on October’s invoice, invoice.carried once) and reinstates an account still suspended in that transaction', async () => {
    const unreviewed = await invoiceOf('acct-unreviewed', '2026-09');
    await leftPastDue(unreviewed, 'acct-unreviewed', '2026-09', '2026-10-13T00:00:00Z');
    await leftSuspended('acct-unreviewed', [unreviewed], '2026-10-13T00:00:00Z', '2026-10-21T00:00:00Z');
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    for (const account of ['acct-legacy', 'acct-owes', 'acct-fresh', 'acct-recent', 'acct-unreviewed']) {
      const september = await invoiceOf(account, '2026-09');
      const october = await invoiceOf(account, '2026-10');
      assert.equal(september.status, 'carried', account);
      assert.equal(october.total, '5.87', account);
      assert.deepEqual(
        (await linesOf(october.id)).filter((l) => l.kind === 'carried').map((l) => [l.key, l.amount, l.adjusts]),
        [[september.number, '2.00', '2026-09']],
        account,
      );
    }
    // No review since the upgrade and nothing else past due: reinstated by the finalize itself, told after the carry.
    assert.equal((await standing('acct-unreviewed'))?.suspended_at, null);
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-unreviewed')).map((n) => n.id),
      [
        `invoice.finalized:${unreviewed.id}`,
        `invoice.past_due:${unreviewed.id}`,
        'account.suspended:acct-unreviewed:1',
        `invoice.finalized:${(await invoiceOf('acct-unreviewed', '2026-10')).id}`,
        `invoice.carried:${unreviewed.id}`,
        'account.reinstated:acct-unreviewed:1',
      ],
    );
    // Reinstated by the review already: carried and told, reinstated once.
    const legacy = await invoiceOf('acct-legacy', '2026-09');
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-legacy')).map((n) => n.id),
      [
        `invoice.finalized:${legacy.id}`,
        `invoice.past_due:${legacy.id}`,
        'account.suspended:acct-legacy:1',
        'account.reinstated:acct-legacy:1',
        `invoice.finalized:${(await invoiceOf('acct-legacy', '2026-10')).id}`,
        `invoice.carried:${legacy.id}`,
      ],
    );
    // August's 38.71 is still past due: acct-owes stays suspended.
    assert.equal((await invoiceOf('acct-owes', '2026-08')).status, 'past_due');
    assert.notEqual((await standing('acct-owes'))?.suspended_at, null);
    assert.ok(!(await noticesOf(db.pool, 'acct-owes')).some((n) => n.type === 'account.reinstated'));
    // The finalized one behaves as before: carried and told, its standing untouched.
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-fresh')).map((n) => n.type),
      ['invoice.finalized', 'invoice.finalized', 'invoice.carried'],
    );
    assert.equal(await standing('acct-fresh'), undefined);
  });

  test('one with a PaymentIntent (charged and declined before the minimum was raised above it) is never carried: it stays past_due, owed, its account suspended', async () => {
    const september = await invoiceOf('acct-charged', '2026-09');
    assert.equal(september.status, 'past_due');
    const october = await invoiceOf('acct-charged', '2026-10');
    assert.equal(october.total, '3.87');
    assert.deepEqual(
      (await linesOf(october.id)).filter((l) => l.kind === 'carried'),
      [],
    );
    assert.deepEqual(
      (await noticesOf(db.pool, 'acct-charged')).map((n) => n.id),
      [
        `invoice.finalized:${september.id}`,
        `invoice.past_due:${september.id}`,
        'account.suspended:acct-charged:1',
        `invoice.finalized:${october.id}`,
      ],
    );
    assert.notEqual((await standing('acct-charged'))?.suspended_at, null);
    // The drafts read the same statement: November's does not carry it either.
    const draft = await billing.draft('acct-charged', '2026-11');
    assert.deepEqual(
      draft.lines.filter((l) => l.kind === 'carried'),
      [],
    );
  });

  test('finalizing again, the month after and the standing review change nothing more: each carried and told once, reinstated once', async () => {
    const before = await db.pool.query('select id from invoicing.notices order by seq');
    await billing.finalize('2026-10');
    assert.deepEqual(await review(), { suspended: 0, reinstated: 0 });
    assert.deepEqual((await db.pool.query('select id from invoicing.notices order by seq')).rows, before.rows);
    clock = DateTime.fromISO('2026-12-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-11');
    const carriedLines = await db.pool.query<{ account_id: string; n: number }>(
      `select i.account_id, count(*)::int as n from invoicing.invoice_lines l join invoicing.invoices i on i.id = l.invoice_id
        where l.kind = 'carried' group by 1 order by 1`,
    );
    assert.deepEqual(
      carriedLines.rows.map((r) => [r.account_id, r.n]),
      [
        ['acct-fresh', 1],
        ['acct-legacy', 1],
        ['acct-owes', 1],
        ['acct-recent', 1],
        ['acct-unreviewed', 1],
      ],
    );
    const told = await db.pool.query<{ type: string; n: number }>(
      `select type, count(*)::int as n from invoicing.notices where type in ('invoice.carried', 'account.reinstated') group by 1 order by 1`,
    );
    assert.deepEqual(
      told.rows.map((r) => [r.type, r.n]),
      [
        ['account.reinstated', 2],
        ['invoice.carried', 5],
      ],
    );
  });
});
