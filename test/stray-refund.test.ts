// The operator's refund of a stray payment whose charge was disputed (the real sandbox, the real SDK,
// real PostgreSQL): a PaymentIntent of a 25.00 invoice changed at the gateway pays 10.00 (stray: it
// holds the invoice until its money is back with the cardholder). While the chargeback is open the
// gateway refuses any refund: `vault refund-stray` says so, naming the dispute and its status. Won,
// the money is ours again: it refunds all 10.00, and the next pass lets the stray go and charges 25.00
// with a new PaymentIntent. Lost for 4.00 of it, the 6.00 the dispute did not take is refunded, and
// refunded + charged back is the whole: released the same way, nothing refunded twice. Run again after
// the pass let it go (a retrying script), it is named as given back, exit 0: before, the invoice held
// no stray any more and the answer was "holds no stray payment", exit 1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Stripe from 'stripe';
import { memoryLogger } from '@vault/runtime';
import { vault } from '@vault/testkit';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway, type ChargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import { refundGateway } from '../services/invoicing/src/charging/refund-gateway.ts';
import { refundStray } from '../services/invoicing/src/charging/stray-refund.ts';
import { chargingWorld, customerOf, gatewayRecord, insertInvoice, putCard, type ChargingWorld } from './charging-harness.ts';

const ADMIN = 'admin-token-stray-refund-0123456789abcdef';

describe('refunding a disputed stray payment (real sandbox, SDK and vault refund-stray)', () => {
  let w: ChargingWorld;
  let env: NodeJS.ProcessEnv;
  let gateway: ChargeGateway;
  const row = async (id: string) =>
    (
      await w.db.pool.query<{ payment_intent_id: string | null; last_error_code: string | null }>(
        'select payment_intent_id, last_error_code from invoicing.charges where invoice_id = $1',
        [id],
      )
    ).rows[0];
  const statusOf = async (id: string) =>
    (await w.db.pool.query<{ status: string }>('select status from invoicing.invoices where id = $1', [id])).rows[0]!.status;
  const disputeOf = async (paymentIntent: string) => {
    const list = await w.sdk.disputes.list({ payment_intent: paymentIntent });
    assert.equal(list.data.length, 1);
    return list.data[0]!;
  };
  /** One charging pass, in this process, through the real SDK and sandbox. */
  const pass = async (through: ChargeGateway = gateway) => {
    const log = memoryLogger();
    const report = await chargePass({ pool: w.db.pool, gateway: through, retrySchedule: [60], log });
    return { report, log };
  };
  /** An invoice of 25.00 whose PaymentIntent is made for 10.00 (changed at the gateway) and paid by `card`: stray. */
  const strayOf = async (id: string, card: string) => {
    await putCard(w, `acct-${id}`, card);
    await insertInvoice(w.db.pool, { id, account: `acct-${id}`, total: '25.00' });
    const changed: ChargeGateway = { ...gateway, createPaymentIntent: (p) => gateway.createPaymentIntent({ ...p, amount: 1000 }) };
    const { log } = await pass(changed);
    const r = await row(id);
    assert.equal(r?.last_error_code, 'stray_payment', log.lines.join('\n'));
    // A working card from here on: the new PaymentIntent is paid, never disputed.
    await putCard(w, `acct-${id}`, '4242424242424242');
    return r!.payment_intent_id!;
  };
  const refundViaVault = (id: string) => vault(['refund-stray', id], env);
  const released = (lines: string[], id: string) => lines.filter((l) => l.includes(`event=charge.stray_released invoice_id=${id}`));

  before(async () => {
    w = await chargingWorld('stray_refund');
    env = { DATABASE_URL: w.db.url, GATEWAY_PORT: String(w.gatewayPort), ADMIN_TOKEN: ADMIN };
    gateway = chargeGateway(w.sdk);
  });
  after(async () => {
    await w?.close();
  });

  test('disputed at once (4000000000000259): refused naming the open dispute; won: all of it refunded, then released and charged 25.00 anew', async () => {
    const id = 'inv-stray-won';
    const stray = await strayOf(id, '4000000000000259');
    const dispute = await disputeOf(stray);
    assert.equal(dispute.status, 'needs_response');

    const open = await refundViaVault(id);
    assert.equal(open.status, 1, open.stderr);
    assert.match(
      open.stdout,
      new RegExp(
        `^nothing refunded: the charge of ${stray} \\(the stray payment of invoice ${id}\\) is under dispute ${dispute.id} \\(needs_response, 10\\.00 USD\\)`,
        'm',
      ),
    );
    assert.match(open.stdout, /the gateway refuses to refund a charge while its chargeback is open/);
    assert.doesNotMatch(open.stdout + open.stderr, /charged back; cannot issue a refund|StripeInvalidRequestError|\n\s+at /);
    assert.equal((await w.sdk.charges.retrieve((await w.sdk.paymentIntents.retrieve(stray)).latest_charge as string)).amount_refunded, 0);

    const won = await w.sdk.disputes.update(dispute.id, { evidence: { uncategorized_text: 'winning_evidence' } });
    assert.deepEqual([won.status, won.is_charge_refundable], ['won', true]);
    // Held still: a won dispute gave the money back to us, not to the cardholder.
    assert.deepEqual(released((await pass()).log.lines, id), []);
    assert.equal((await row(id))?.payment_intent_id, stray);

    const refunded = await refundViaVault(id);
    assert.equal(refunded.status, 0, refunded.stdout + refunded.stderr);
    assert.match(
      refunded.stdout,
      new RegExp(`^refunded 10\\.00 USD of ${stray} \\(the stray payment of invoice ${id}\\): refund re_`, 'm'),
    );
    assert.match(refunded.stdout, new RegExp(`disputes: ${dispute.id} \\(won\\)`));
    const refunds = await w.sdk.refunds.list({ payment_intent: stray });
    assert.deepEqual(
      refunds.data.map((r) => [r.amount, r.metadata?.invoice_id]),
      [[1000, id]],
    );

    const { report, log } = await pass();
    assert.equal(report.paid, 1, log.lines.join('\n'));
    assert.equal(released(log.lines, id).length, 1);
    assert.match(released(log.lines, id)[0]!, /amount_refunded=10\.00 amount_charged_back=0\.00 currency=USD/);
    const fresh = (await row(id))?.payment_intent_id as string;
    assert.notEqual(fresh, stray);
    const paid = await w.sdk.paymentIntents.retrieve(fresh);
    assert.deepEqual([paid.status, paid.amount_received], ['succeeded', 2500]);
    assert.equal(await statusOf(id), 'paid');
    assert.deepEqual(await gatewayRecord(w.sdk, await customerOf(w.db.pool, `acct-${id}`), id), { intents: 2, succeeded: 2, failed: 0 });

    // Released: run again, the stray let go is found at the gateway and named as given back (exit 0), nothing refunded.
    const again = await refundViaVault(id);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      new RegExp(
        `^nothing refunded: ${stray} \\(the stray payment of invoice ${id}, let go by a charging pass\\) is back with the cardholder already ` +
          `\\(refunded 10\\.00 USD, charged back 0\\.00 USD; disputes: ${dispute.id} \\(won\\)\\)`,
        'm',
      ),
    );
    assert.equal((await w.sdk.refunds.list({ payment_intent: stray })).data.length, 1);

    // An invoice that never held a stray payment (paid at once): still no stray, exit 1.
    await putCard(w, 'acct-inv-plain', '4242424242424242');
    await insertInvoice(w.db.pool, { id: 'inv-plain', account: 'acct-inv-plain', total: '25.00' });
    assert.equal((await pass()).report.paid, 1);
    const plain = await refundViaVault('inv-plain');
    assert.equal(plain.status, 1);
    assert.match(plain.stdout, /^nothing refunded: invoice inv-plain holds no stray payment/m);
  });

  test('disputed for 4.00 of its 10.00 and lost: the 6.00 left is refunded, refunded + charged back is the whole, released', async () => {
    const id = 'inv-stray-part';
    const stray = await strayOf(id, '4242424242424242');
    const charge = (await w.sdk.paymentIntents.retrieve(stray)).latest_charge as string;
    // The cardholder's bank disputes part of it (the sandbox's test helper: no Stripe test card does).
    const dispute: Stripe.Dispute = await w.sdk.rawRequest('POST', `/v1/test_helpers/charges/${charge}/dispute`, { amount: 400 });
    const deps = { pool: w.db.pool, gateway: { ...gateway, ...refundGateway(w.sdk) }, log: memoryLogger() };

    const open = await refundStray(deps, id);
    assert.equal(open.outcome, 'refused');
    assert.equal(open.outcome === 'refused' && open.reason, 'dispute_open');
    assert.match(open.message, new RegExp(`under dispute ${dispute.id} \\(needs_response, 4\\.00 USD\\)`));

    const lost = await w.sdk.disputes.close(dispute.id);
    assert.deepEqual([lost.status, lost.is_charge_refundable], ['lost', true]);
    // 4.00 back by the chargeback is not all of 10.00: still held.
    assert.deepEqual(released((await pass()).log.lines, id), []);

    const refunded = await refundStray(deps, id);
    assert.equal(refunded.outcome, 'refunded', refunded.message);
    assert.deepEqual(refunded.outcome === 'refunded' && [refunded.amount, refunded.currency], ['6.00', 'USD']);
    assert.ok(deps.log.lines.some((l) => l.includes(`event=charge.stray_refunded invoice_id=${id} payment_intent=${stray}`)));
    // Given back in full now: another run refunds nothing (not the 4.00 the dispute took, not twice).
    const again = await refundStray(deps, id);
    assert.equal(again.outcome === 'refused' && again.reason, 'given_back', again.message);
    assert.match(again.message, /refunded 6\.00 USD, charged back 4\.00 USD/);
    assert.equal((await w.sdk.charges.retrieve(charge)).amount_refunded, 600);

    const { report, log } = await pass();
    assert.equal(report.paid, 1, log.lines.join('\n'));
    assert.match(
      released(log.lines, id)[0] ?? '',
      new RegExp(`payment_intent=${stray} amount_refunded=6\\.00 amount_charged_back=4\\.00 currency=USD disputes=${dispute.id}`),
    );
    const fresh = (await row(id))?.payment_intent_id as string;
    assert.notEqual(fresh, stray);
    assert.equal((await w.sdk.paymentIntents.retrieve(fresh)).amount_received, 2500);
    assert.equal(await statusOf(id), 'paid');

    const later = await refundStray(deps, id);
    assert.equal(later.outcome === 'refused' && later.reason, 'given_back', later.message);
    assert.match(later.message, new RegExp(`^${stray} \\(the stray payment of invoice ${id}, let go by a charging pass\\)`));
    assert.match(later.message, new RegExp(`refunded 6\\.00 USD, charged back 4\\.00 USD; disputes: ${dispute.id} \\(lost\\)`));
  });
});
