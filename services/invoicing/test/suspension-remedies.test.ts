// account.suspended says what lifts the suspension (`remedies`), as the invoice
// pages read each past-due invoice: its email told every suspended customer to
// "add a card on the card form and it is charged at once", also when what kept
// the account suspended was a small invoice charged before the minimum was
// raised (`not_chargeable`: never charged again nor carried, an operator
// settles it) or a card on file blocked for fraud (another card is needed).
// Real PostgreSQL: the standing review records the notice; its stored event
// (what GET /v1/notices lists and the publisher sends) and its email are read.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Notice } from '@vault/contracts';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { reviewStandings } from '../src/accounts/standing.ts';
import { CARD_REPORTED_FRAUDULENT } from '../src/charging/blocked-cards.ts';
import { minimumChargeAmount } from '../src/charging/amount.ts';
import { emailFor } from '../src/email/messages.ts';
import { noticesOf } from '../src/notices/outbox.ts';
import { billingDatabase } from './seed.ts';

const ctx = { invoicingUrl: 'https://billing.example.test' };

describe('account.suspended says what lifts the suspension (real PostgreSQL)', () => {
  let db: TestDatabase;

  before(async () => {
    db = await billingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** A USD invoice of `account` past due since `since`, its charge row as charging leaves it. */
  async function pastDue(account: string, id: string, number: string, total: string, since: string, charge: Record<string, string>) {
    const period = `2026-${number.slice(-2)}`;
    await db.pool.query(
      `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, status)
       values ($1, $2, $5, ($5 || '-01')::date, ($5 || '-01')::date + interval '1 month', $3, 'USD', $4, 'past_due')`,
      [id, account, number, total, period],
    );
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, past_due_at, last_error_code)
       values ($1, $2, 'past_due', 3, $3, $4)`,
      [id, charge.paymentIntent ?? null, since, charge.code],
    );
  }

  const review = () =>
    reviewStandings({
      pool: db.pool,
      log: memoryLogger(),
      suspendAfterSeconds: 7 * 24 * 3600,
      minimum: minimumChargeAmount('USD'),
      now: () => new Date('2026-12-10T00:00:00Z'),
    });

  const suspendedNotice = async (account: string) => {
    const found = (await noticesOf(db.pool, account)).filter((n) => n.type === 'account.suspended');
    assert.equal(found.length, 1, `one account.suspended of ${account}`);
    return Notice.parse(found[0]);
  };

  test('a not_chargeable invoice (0.40 USD, charged before the minimum was raised): the notice says an operator settles it, and so does the email', async () => {
    await pastDue('acct-nc', 'inv-nc', 'N-0010', '0.40', '2026-11-08T00:00:00Z', { paymentIntent: 'pi_nc', code: 'card_declined' });
    await review();
    const notice = await suspendedNotice('acct-nc');
    assert.deepEqual(notice.data, {
      account_id: 'acct-nc',
      invoice_ids: ['inv-nc'],
      past_due_since: '2026-11-08T00:00:00.000Z',
      remedies: [{ remedy: 'operator_settles', invoice_ids: ['inv-nc'], numbers: ['N-0010'] }],
    });
    const { text } = emailFor(notice, ctx)!;
    assert.match(text, /Invoice N-0010 is below the smallest amount we can charge to a card/);
    assert.match(text, /please ask your platform support to settle it\./);
    assert.doesNotMatch(text, /charged at once/);
  });

  test('a card on file blocked for fraud: another card; with a no-card invoice beside a not_chargeable one, each is said', async () => {
    await pastDue('acct-fraud', 'inv-fraud', 'F-0010', '25.00', '2026-11-08T00:00:00Z', {
      paymentIntent: 'pi_fraud',
      code: CARD_REPORTED_FRAUDULENT,
    });
    await pastDue('acct-mixed', 'inv-small', 'M-0009', '0.40', '2026-10-08T00:00:00Z', {
      paymentIntent: 'pi_mixed',
      code: 'card_declined',
    });
    // Past due 4 days only: not what suspends it, but it must be paid too before the account is reinstated.
    await pastDue('acct-mixed', 'inv-big', 'M-0011', '40.00', '2026-12-06T00:00:00Z', { code: 'no_card_on_file' });
    await review();
    const fraud = await suspendedNotice('acct-fraud');
    assert.deepEqual(fraud.data.remedies, [{ remedy: 'add_another_card', invoice_ids: ['inv-fraud'], numbers: ['F-0010'] }]);
    assert.match(emailFor(fraud, ctx)!.text, /Add another card on the card form \(linked from your invoices\): it is charged at once\./);
    const mixed = await suspendedNotice('acct-mixed');
    assert.deepEqual(mixed.data.invoice_ids, ['inv-small']);
    assert.deepEqual(mixed.data.remedies, [
      { remedy: 'add_card', invoice_ids: ['inv-big'], numbers: ['M-0011'] },
      { remedy: 'operator_settles', invoice_ids: ['inv-small'], numbers: ['M-0009'] },
    ]);
  });
});
