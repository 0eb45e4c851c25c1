// A declined payment tried again from its page ("Try again") takes none of the
// account's card attempts, which budget card setups: ten clicks once locked the
// customer out of putting another card on file (their only way out) for an
// hour, told "You have tried 10 cards" when they had tried one. The secret the
// page hands over is the same at each call and confirms with any card straight
// at the gateway, so counting calls here stopped no card testing: invoicing
// counts other cards' declines (charging/card-testing.ts). In process over a
// real database and the fake gateway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { declineOf } from '../src/cards/gateway.ts';
import { customerWithCard, intentFor } from './payment-fixture.ts';
import { world, type World } from './world.ts';

const LIMIT = 3;
let w: World;
before(async () => {
  w = await world({ attemptsPerHour: LIMIT });
});
after(async () => {
  await w?.close();
});

describe('trying a declined payment again on the card form', () => {
  test('ten /start calls of a declined PaymentIntent (past CARD_ATTEMPTS_PER_HOUR) each hand over its secret, and a new card may still be put on file', async () => {
    // Putting the card on file took the account's first card attempt.
    const { b, customerId, pm } = await customerWithCard(w, 'acct-retry-1');
    const declined = intentFor(w, 'acct-retry-1', customerId, pm);
    declined.lastDecline = declineOf({ type: 'card_error', code: 'insufficient_funds', message: 'Your card has insufficient funds.' });

    for (let i = 0; i < 10; i++) {
      const ok = await b.postJson(`/payments/${declined.id}/start`, {});
      assert.equal(ok.statusCode, 200, `try ${i + 1}: ${ok.body}`);
      assert.deepEqual(ok.json(), { client_secret: declined.clientSecret, payment_method: pm });
    }
    assert.doesNotMatch(w.log.lines.join('\n'), /rate_limited/);

    // The card setups' budget is untouched: the next card goes on file.
    const setup = await b.postJson('/card/setup-intents', {});
    assert.equal(setup.statusCode, 201, setup.body);
    const si = (setup.json().client_secret as string).split('_secret_')[0]!;
    const replaced = w.gateway.confirm(si, { brand: 'mastercard', last4: '4444' });
    assert.equal((await b.postJson('/card', { setup_intent: si })).statusCode, 200);
    const { rows } = await w.db.pool.query<{ n: number }>(
      `select count(*)::int as n from cc_forms.card_attempts where account_id = 'acct-retry-1'`,
    );
    assert.equal(rows[0]!.n, 2, 'two card setups, no retry');
    // The retry now pays with the card just put on file.
    const after = await b.postJson(`/payments/${declined.id}/start`, {});
    assert.equal(after.json().payment_method, replaced);
  });
});
