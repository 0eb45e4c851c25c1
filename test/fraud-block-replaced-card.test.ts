// The usual way a stolen card comes back: a card without a fingerprint (saved before cc-forms kept
// them) is charged back as fraud while the gateway will not say which card, so the card of record is
// blocked by its payment method alone. The block refuses it at charge, the page asks for another card,
// and the fraudster types the same number in again: a new payment method that replaces the blocked
// one on file. The block only ever took its fingerprint from cc-forms' cards on file, where the
// blocked payment method no longer was: it stayed without one for good, so the same card was saved
// and charged again. Now the charging pass reads a block's fingerprint from the gateway itself, which
// still answers for a replaced, detached payment method (charging/block-card-reads.ts): the card typed
// in again is refused at charge and at the form. The real sandbox (the dispute test card
// 4000000000000259: its charges are disputed as fraudulent at once) through the official SDK, both
// apps' code in process (cc-forms' routes over the sandbox), real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { ccFormsRoutes } from '../services/cc-forms/src/app.ts';
import { CARD_BLOCKED_MESSAGE } from '../services/cc-forms/src/cards/blocked.ts';
import { backfillFingerprints } from '../services/cc-forms/src/cards/fingerprint-backfill.ts';
import { readCardFingerprint, sdkCardGateway } from '../services/cc-forms/src/cards/gateway.ts';
import { saveCard } from '../services/cc-forms/src/cards/store.ts';
import { accountToken, signIn, type World } from '../services/cc-forms/test/world.ts';
import { chargePass } from '../services/invoicing/src/charging/charger.ts';
import { chargeGateway } from '../services/invoicing/src/charging/gateway-calls.ts';
import {
  blockFingerprints,
  chargingWorld,
  customerOf,
  fraudBlockedByPaymentMethod,
  insertInvoice,
  invoiceCharge,
  type ChargingWorld,
} from './charging-harness.ts';

const DISPUTE_CARD = '4000000000000259';

describe('a fraud block whose card was replaced gets its fingerprint from the gateway: the same card typed in again is refused (real sandbox)', () => {
  let w: ChargingWorld;
  const log = memoryLogger();
  const pass = () => chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [60], log });
  const row = (invoiceId: string) => invoiceCharge(w.db.pool, invoiceId);
  const block = (pm: string) => blockFingerprints(w.db.pool, pm);

  before(async () => {
    w = await chargingWorld('fraud_replaced');
  });
  after(() => w?.close());

  test('block by card of record, the same number typed in again before any backfill: the pass reads the block from the gateway; not charged; the form refuses it 422', async () => {
    // Saved before 007: the cards row without a fingerprint (the harness writes none); blocked by payment method alone.
    const { stolen, dispute } = await fraudBlockedByPaymentMethod(w, {
      account: 'acct-rp',
      invoiceId: 'rp-1',
      number: DISPUTE_CARD,
      pass,
      log,
    });

    // Before any backfill, the same card typed in again: a new payment method, saved with its fingerprint,
    // replacing the blocked one on file; the blocked one detached from the customer.
    const customerId = (await customerOf(w.db.pool, 'acct-rp'))!;
    const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: (await sandboxKeys(w.db.pool)).publishableKey });
    const typed = await browser.paymentMethods.create({
      type: 'card',
      card: { number: DISPUTE_CARD, exp_month: 12, exp_year: 2034, cvc: '123' },
    });
    await w.sdk.paymentMethods.attach(typed.id, { customer: customerId });
    const again = (await sdkCardGateway(w.sdk).paymentMethod(typed.id))!;
    assert.ok(again.fingerprint);
    await saveCard(w.db.pool, 'acct-rp', { ...again, customerId, paymentMethodId: again.id, setupIntentId: `seti_${again.id}` });
    await w.sdk.paymentMethods.detach(stolen);
    await insertInvoice(w.db.pool, { id: 'rp-2', account: 'acct-rp', total: '10.00', period: '2026-11' });

    // Both backfills, then the pass: the block's payment method is on no file, so the gateway is asked.
    await backfillFingerprints({ pool: w.db.pool, log, read: (pm) => readCardFingerprint(w.sdk, pm) });
    await pass();
    assert.deepEqual(await block(stolen), [{ fingerprint: again.fingerprint }]);
    assert.match(
      log.lines.filter((l) => l.includes('event=charge.block_fingerprint_filled')).join('\n'),
      new RegExp(
        `^at=warn event=charge\\.block_fingerprint_filled payment_method=${stolen} account_id=acct-rp dispute_id=${dispute.id} from=gateway `,
      ),
    );
    assert.deepEqual(await row('rp-2'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
    const intents = await w.sdk.paymentIntents.list({ customer: customerId, limit: 100 });
    assert.equal(intents.data.filter((x) => x.metadata.invoice_id === 'rp-2').length, 0, 'nothing sent to the gateway for it');
    await pass();
    assert.equal(log.lines.filter((l) => l.includes('event=charge.block_fingerprint_filled')).length, 1, 'filled once');

    // The same number typed into the card form a third time: refused, nothing saved.
    const ccLog = memoryLogger({ app: 'cc-forms' });
    const http = createHttpApp(ccLog);
    ccFormsRoutes(http, {
      pool: w.db.pool,
      gateway: sdkCardGateway(w.sdk),
      log: ccLog,
      attemptsPerHour: 10,
      lookupsPerMinute: 60,
      publishableKey: (await sandboxKeys(w.db.pool)).publishableKey,
      gatewayJs: `${w.sandbox.url}/v3/`,
      gatewayOrigins: [w.sandbox.url],
      invoicingWebUrl: 'http://localhost:3998',
    });
    try {
      const cc = { db: w.db, gateway: sdkCardGateway(w.sdk), log: ccLog, http } as unknown as World;
      const b = await signIn(cc, await accountToken(cc, 'acct-rp'));
      const secret = (await b.postJson('/card/setup-intents', {})).json().client_secret as string;
      const si = secret.split('_secret_')[0]!;
      const third = await browser.paymentMethods.create({
        type: 'card',
        card: { number: DISPUTE_CARD, exp_month: 12, exp_year: 2034, cvc: '123' },
      });
      await browser.setupIntents.confirm(si, { payment_method: third.id, client_secret: secret } as never);
      const res = await b.postJson('/card', { setup_intent: si });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().error.message, CARD_BLOCKED_MESSAGE);
      const onFile = await w.db.pool.query('select payment_method_id from cc_forms.cards_on_file where account_id = $1', ['acct-rp']);
      assert.deepEqual(onFile.rows, [{ payment_method_id: again.id }], 'not saved');
    } finally {
      await http.close();
    }
  });
});
