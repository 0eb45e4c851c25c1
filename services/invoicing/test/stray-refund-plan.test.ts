// What of a stray payment is given back to the cardholder (givenBack) and what a refund may still
// take (refundPlan), pure: refunds and lost disputes count, a won dispute does not (the money came
// back to us), so a refund after it is counted once; a dispute lost for part of the charge and a
// refund of the rest are the whole; an open chargeback refuses any refund, an inquiry does not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReportedDispute, ReportedIntent } from '../src/charging/gateway-calls.ts';
import { givenBack } from '../src/charging/stray-given-back.ts';
import { refundPlan } from '../src/charging/stray-refund.ts';

const intent = (refunded: number, amount = 1000): ReportedIntent => ({
  id: 'pi_stray',
  status: 'succeeded',
  amount,
  currency: 'usd',
  paymentMethodId: 'pm_1',
  charge: { id: 'ch_1', amount_refunded: refunded, currency: 'usd' },
  disputed: true,
});
const dispute = (status: string, amount = 1000, refundable?: boolean): ReportedDispute => ({
  id: `dp_${status}`,
  paymentIntentId: 'pi_stray',
  amount,
  currency: 'usd',
  status,
  refundable,
});

describe('a stray payment given back, and what a refund may still take', () => {
  test('won, not refunded: nothing given back, all of it refundable; won and refunded in full: whole, counted once', () => {
    assert.deepEqual(givenBack(intent(0), [dispute('won', 1000, true)]), { refunded: 0, chargedBack: 0, disputes: [], whole: false });
    assert.deepEqual(refundPlan(intent(0), [dispute('won', 1000, true)]), { refund: 1000 });
    const back = givenBack(intent(1000), [dispute('won', 1000, false)]);
    assert.deepEqual(back, { refunded: 1000, chargedBack: 0, disputes: [], whole: true });
    assert.deepEqual(refundPlan(intent(1000), [dispute('won', 1000, false)]), { refuse: 'given_back' });
    // Won, then part refunded: the rest only.
    assert.deepEqual(refundPlan(intent(300), [dispute('won', 1000, true)]), { refund: 700 });
  });

  test('lost for part: the rest is refundable, and the rest refunded plus the dispute is the whole', () => {
    assert.equal(givenBack(intent(0), [dispute('lost', 400, true)]).whole, false);
    assert.deepEqual(refundPlan(intent(0), [dispute('lost', 400, true)]), { refund: 600 });
    assert.deepEqual(givenBack(intent(600), [dispute('lost', 400, false)]), {
      refunded: 600,
      chargedBack: 400,
      disputes: ['dp_lost'],
      whole: true,
    });
    assert.deepEqual(refundPlan(intent(600), [dispute('lost', 400, false)]), { refuse: 'given_back' });
    // Lost for all of it: nothing to refund, already whole.
    assert.deepEqual(refundPlan(intent(0), [dispute('lost', 1000, false)]), { refuse: 'given_back' });
  });

  test('an open chargeback refuses any refund, naming it; an inquiry the gateway says is refundable does not', () => {
    for (const status of ['needs_response', 'under_review']) {
      const open = dispute(status, 400, false);
      assert.deepEqual(refundPlan(intent(0), [open]), { refuse: 'dispute_open', dispute: open });
    }
    assert.deepEqual(refundPlan(intent(0), [dispute('warning_needs_response', 1000, true)]), { refund: 1000 });
    assert.deepEqual(refundPlan(intent(0), []), { refund: 1000 });
    assert.deepEqual(refundPlan({ ...intent(0), status: 'canceled' }, []), { refuse: 'not_succeeded' });
  });
});
