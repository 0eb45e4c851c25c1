// The asked-again email's words (asked-again.ts askedAgainWords) from the notice's data: what happened
// to the PaymentIntents since the earlier request, not only to the last one. card-testing-asked-late
// and card-testing-asked-again are the end-to-end cases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { askedAgainWords } from '../src/charging/asked-again.ts';

const asked = { asked_before_at: '2026-11-02T09:30:00.000Z', replaces_payment_intent_id: 'pi_y' };

describe('the words of a 3-D Secure request made again', () => {
  test('a stray payment given back since, nothing else: said given back, not canceled', () => {
    const words = askedAgainWords({
      ...asked,
      replaced_because: 'payment_given_back',
      replaced_since_asked_before: ['payment_given_back'],
    });
    assert.match(words ?? '', /^We asked you on 2 November 2026 to confirm this payment\. /);
    assert.match(words ?? '', /A payment taken for this invoice since then did not match it and was given back to you in full\./);
    assert.doesNotMatch(words ?? '', /canceled|other cards/);
  });

  test('other cards tried on an earlier PaymentIntent, the last one canceled: the card-testing warning stays', () => {
    const words = askedAgainWords({
      ...asked,
      replaced_because: 'canceled',
      replaced_since_asked_before: ['other_cards_declined', 'canceled'],
    });
    assert.match(words ?? '', /That request was canceled to protect you: other cards were tried/);
    assert.match(words ?? '', /If nobody on your side tried other cards, tell your platform support\./);
    assert.doesNotMatch(words ?? '', /given back/);
  });

  test('a notice made before the list was kept reads its replaced_because, as it did', () => {
    assert.match(askedAgainWords({ ...asked, replaced_because: 'other_cards_declined' }) ?? '', /other cards were tried/);
    assert.match(
      askedAgainWords({ ...asked, replaced_because: 'canceled' }) ?? '',
      /That request was canceled and can no longer be confirmed/,
    );
    assert.equal(askedAgainWords({ replaced_because: 'canceled' }), undefined, 'a first ask says nothing of it');
  });
});
