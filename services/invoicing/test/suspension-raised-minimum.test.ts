// GATEWAY_MINIMUM_CHARGE raised above a past-due invoice's total (0.55 USD,
// past due for want of a card, then a minimum of 0.60): the invoice is never
// charged and waits to be carried to the account's next invoice, so it never
// suspends its account and keeps none suspended. Through the real apps (the
// sandbox and the invoicing process, booted again with each setting, as an
// operator would), SUSPEND_PAST_DUE_AFTER=PT1S once the minimum is raised.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargingWorld, insertInvoice, statuses, type ChargingWorld } from '../../../test/charging-harness.ts';

const ADMIN = 'raised-minimum-admin-token-0123456789ab';

describe('a past-due invoice below a GATEWAY_MINIMUM_CHARGE raised after it, through the sandbox and the invoicing process', () => {
  let w: ChargingWorld;
  let app: RunningService | undefined;

  /** The invoicing process with these settings (the USD price book: Stripe's minimum 0.50). */
  const boot = async (settings: { GATEWAY_MINIMUM_CHARGE: string; SUSPEND_PAST_DUE_AFTER: string }) => {
    await app?.kill('SIGTERM');
    app = await startService('invoicing', {
      DATABASE_URL: w.db.url,
      GATEWAY_PORT: String(w.gatewayPort),
      ADMIN_TOKEN: ADMIN,
      INVOICING_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      CHARGE_EVERY_SECONDS: '0.2',
      INVOICE_FINALIZE_EVERY_SECONDS: '3600',
      ...settings,
    });
  };
  const standingOf = async (account: string) => {
    const res = await fetch(`${app!.url}/v1/accounts/${account}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return (await res.json()) as Record<string, any>;
  };
  const until = (account: string, standing: 'suspended' | 'active') =>
    eventually(
      () => `${account} ${standing}`,
      async () => (await standingOf(account)).standing === standing,
      20_000,
    );

  before(async () => {
    w = await chargingWorld('raised_minimum');
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await w?.close();
  });

  test('never suspends its account, and the review reinstates one it alone kept suspended; one owed above the minimum still suspends', async () => {
    // Before the raise: acct-was's 0.55 goes past due for want of a card and its account is suspended (0.55 ≥ 0.50).
    await boot({ GATEWAY_MINIMUM_CHARGE: '', SUSPEND_PAST_DUE_AFTER: 'PT1S' });
    await insertInvoice(w.db.pool, { id: 'inv-was', account: 'acct-was', total: '0.55' });
    await until('acct-was', 'suspended');
    // Still before the raise, suspensions after a week: acct-small's 0.55 and acct-big's 40.00 go past due, no card.
    await boot({ GATEWAY_MINIMUM_CHARGE: '', SUSPEND_PAST_DUE_AFTER: 'P7D' });
    await insertInvoice(w.db.pool, { id: 'inv-small', account: 'acct-small', total: '0.55' });
    await insertInvoice(w.db.pool, { id: 'inv-big', account: 'acct-big', total: '40.00' });
    await eventually(
      () => 'both past due',
      async () => {
        const s = await statuses(w.db.pool);
        return s['inv-small'] === 'past_due' && s['inv-big'] === 'past_due';
      },
      20_000,
    );

    // The operator raises the minimum to 0.60.
    await boot({ GATEWAY_MINIMUM_CHARGE: '0.60', SUSPEND_PAST_DUE_AFTER: 'PT1S' });
    await until('acct-big', 'suspended');
    // Passes enough for acct-small's invoice, past due as long as acct-big's, to have been reviewed more than once.
    await new Promise((r) => setTimeout(r, 1_500));
    const small = await standingOf('acct-small');
    assert.equal(small.standing, 'active', JSON.stringify(small));
    await until('acct-was', 'active');
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-small')).map((n) => n.id),
      ['invoice.past_due:inv-small'],
    );
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-was')).map((n) => n.id),
      ['invoice.past_due:inv-was', 'account.suspended:acct-was:1', 'account.reinstated:acct-was:1'],
    );
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-big')).map((n) => n.id),
      ['invoice.past_due:inv-big', 'account.suspended:acct-big:1'],
    );
    // Neither charged nor carried yet: they wait, owed, for the account's next invoice.
    const s = await statuses(w.db.pool);
    assert.deepEqual([s['inv-small'], s['inv-was']], ['past_due', 'past_due']);
    const charged = await w.db.pool.query(
      `select invoice_id from invoicing.charges where invoice_id in ('inv-small', 'inv-was') and payment_intent_id is not null`,
    );
    assert.deepEqual(charged.rows, []);
  });
});
