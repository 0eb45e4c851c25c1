// A card saved before cc-forms kept fingerprints (its migration 007), charged back as fraud while the
// gateway would not say which card (a restricted key: charge.card_block_unread), was blocked by its
// payment method alone, for good: the same stolen card typed in again (a new payment method, the
// same fingerprint) was charged at once. Now cc-forms' backfill reads the old card's fingerprint from
// the gateway (cards/fingerprint-backfill.ts), and invoicing's next charging pass gives the block that
// fingerprint from cc-forms' view (charging/block-fingerprints.ts): the card typed in again is
// refused. The real sandbox (the dispute test card 4000000000000259: its charges are disputed as
// fraudulent at once) through the official SDK, both apps' code in process, real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayClient, sandboxKeys } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import { backfillFingerprints } from '../services/cc-forms/src/cards/fingerprint-backfill.ts';
import { readCardFingerprint, sdkCardGateway } from '../services/cc-forms/src/cards/gateway.ts';
import { saveCard } from '../services/cc-forms/src/cards/store.ts';
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

describe('a fraud block made before the card had a fingerprint blocks the card typed in again once both backfills ran (real sandbox)', () => {
  let w: ChargingWorld;
  const log = memoryLogger();
  const pass = () => chargePass({ pool: w.db.pool, gateway: chargeGateway(w.sdk), retrySchedule: [60], log });
  const row = (invoiceId: string) => invoiceCharge(w.db.pool, invoiceId);
  const block = (pm: string) => blockFingerprints(w.db.pool, pm);

  before(async () => {
    w = await chargingWorld('fraud_backfill');
  });
  after(() => w?.close());

  test('the old card gets its fingerprint, the block gets it from cc-forms, and the same number saved again is not charged', async () => {
    // Saved before 007: the cards row without a fingerprint (the harness writes none); blocked by payment method alone.
    const { stolen } = await fraudBlockedByPaymentMethod(w, { account: 'acct-bf', invoiceId: 'bf-1', number: DISPUTE_CARD, pass, log });

    // cc-forms' backfill reads the card's fingerprint from the gateway; invoicing's next pass gives it to the block.
    await backfillFingerprints({ pool: w.db.pool, log, read: (pm) => readCardFingerprint(w.sdk, pm) });
    const { fingerprint } = (await w.sdk.paymentMethods.retrieve(stolen)).card!;
    const onFile = await w.db.pool.query('select fingerprint from cc_forms.cards_on_file where account_id = $1', ['acct-bf']);
    assert.deepEqual(onFile.rows, [{ fingerprint }]);
    await pass();
    assert.deepEqual(await block(stolen), [{ fingerprint }]);

    // The customer types the same card in again: a new payment method, the same fingerprint, saved as cc-forms saves it.
    const browser = gatewayClient({ url: new URL(w.sandbox.url), secretKey: (await sandboxKeys(w.db.pool)).publishableKey });
    const typed = await browser.paymentMethods.create({
      type: 'card',
      card: { number: DISPUTE_CARD, exp_month: 12, exp_year: 2034, cvc: '123' },
    });
    const customerId = (await customerOf(w.db.pool, 'acct-bf'))!;
    await w.sdk.paymentMethods.attach(typed.id, { customer: customerId });
    const again = (await sdkCardGateway(w.sdk).paymentMethod(typed.id))!;
    assert.equal(again.fingerprint, fingerprint);
    await saveCard(w.db.pool, 'acct-bf', { ...again, customerId, paymentMethodId: again.id, setupIntentId: `seti_${again.id}` });
    await insertInvoice(w.db.pool, { id: 'bf-2', account: 'acct-bf', total: '10.00', period: '2026-11' });
    await pass();
    assert.deepEqual(await row('bf-2'), { status: 'past_due', code: 'card_reported_fraudulent', pi: null });
    const intents = await w.sdk.paymentIntents.list({ customer: customerId, limit: 100 });
    assert.equal(intents.data.filter((x) => x.metadata.invoice_id === 'bf-2').length, 0, 'nothing sent to the gateway for it');
    assert.equal(log.lines.filter((l) => l.includes('event=charge.block_fingerprint_filled')).length, 1, log.lines.join('\n'));
  });
});
