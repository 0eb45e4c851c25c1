// A declined payment tried again from its page costs a card attempt, as a card
// setup does: its client secret confirms the PaymentIntent with any card, so
// without this the page handed out secrets for as many tries as a script asked.
// In process over a real database and the fake gateway.
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
  test('each /start of a declined PaymentIntent takes a card attempt: past CARD_ATTEMPTS_PER_HOUR (card setups included) it is a 429 naming the limit and when, with no client secret', async () => {
    // Putting the card on file took the account's first attempt.
    const { b, customerId, pm } = await customerWithCard(w, 'acct-retry-1');
    const declined = intentFor(w, 'acct-retry-1', customerId, pm);
    declined.lastDecline = declineOf({ type: 'card_error', code: 'card_declined', message: 'Your card was declined.' });
    const asked = intentFor(w, 'acct-retry-1', customerId, pm);

    for (let i = 0; i < LIMIT - 1; i++) {
      const ok = await b.postJson(`/payments/${declined.id}/start`, {});
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().client_secret, declined.clientSecret);
    }
    const refused = await b.postJson(`/payments/${declined.id}/start`, {});
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.json().error.code, 'rate_limited');
    assert.match(
      refused.json().error.message,
      /^You have tried 3 cards in the last hour \(payments tried again and cards put on file\), the most we allow to protect your account\. Please try again in (59|60) minutes\. Nothing was charged\.$/,
    );
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter > 3500 && retryAfter <= 3600, String(retryAfter));
    assert.doesNotMatch(refused.body, new RegExp(declined.clientSecret!), 'no client secret past the limit');
    assert.match(
      w.log.lines.join('\n'),
      new RegExp(`at=warn event=payment.rate_limited account_id=acct-retry-1 payment_intent_id=${declined.id} retry_after_s=\\d+ limit=3`),
    );

    // The same limit as card setups: a new card is refused too, for as long.
    const setup = await b.postJson('/card/setup-intents', {});
    assert.equal(setup.statusCode, 429);

    // A payment not declined yet (the bank's first ask) costs no attempt: authenticating is not trying a card.
    const first = await b.postJson(`/payments/${asked.id}/start`, {});
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json().client_secret, asked.clientSecret);
  });
});
