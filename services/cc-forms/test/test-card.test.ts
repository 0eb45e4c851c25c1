// `vault card add`'s parsing, and its refusal to send a card number anywhere
// but the sandbox (checked before any call: no gateway or database is needed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { gatewayClient, type Gateway } from '@vault/gateway';
import { memoryLogger } from '@vault/runtime';
import { addTestCard, CardCliError, cardFormAddress, CardUsageError, parseTestCardArgs } from '../src/cli/index.ts';
import { needsAuthenticationMessage } from '../src/cli/needs-authentication.ts';

describe('vault card add', () => {
  test('takes an account and a test card number (4242… by default; spaces and dashes allowed)', () => {
    assert.deepEqual(parseTestCardArgs(['add', '--account', 'acct-1']), { accountId: 'acct-1', number: '4242424242424242' });
    assert.deepEqual(parseTestCardArgs(['add', '--account', 'acct-1', '--test-card', '4000 0000-0000 0341']), {
      accountId: 'acct-1',
      number: '4000000000000341',
    });
  });

  test('usage errors name what is wrong', () => {
    assert.throws(
      () => parseTestCardArgs([]),
      (e: Error) => e instanceof CardUsageError && /only add/.test(e.message),
    );
    assert.throws(() => parseTestCardArgs(['remove']), /unknown action remove/);
    assert.throws(() => parseTestCardArgs(['add']), /--account ID is required/);
    assert.throws(() => parseTestCardArgs(['add', '--account', 'a'.repeat(129)]), /card add: --account must be 1 to 128 characters/);
    assert.throws(() => parseTestCardArgs(['add', '--account', '']), /card add: --account must be 1 to 128 characters/);
    assert.throws(() => parseTestCardArgs(['add', '--account', 'a', '--test-card', '42x']), /--test-card must be/);
    assert.throws(() => parseTestCardArgs(['add', '--account', 'a', '--cvc', '1']), CardUsageError);
  });

  test("a real gateway (Stripe's API, or a live key anywhere) is refused before anything is sent", async () => {
    const stripe = {
      url: new URL('https://api.stripe.com'),
      secretKey: 'sk_test_someone_real',
      publishableKey: 'pk_test_x',
      sandbox: false,
    };
    const live = { url: new URL('http://localhost:3003'), secretKey: 'sk_live_someone_real', publishableKey: 'pk_live_x', sandbox: true };
    for (const config of [stripe, live]) {
      const gateway: Gateway = gatewayClient(config);
      const pool = {} as pg.Pool; // never touched: the refusal comes first
      await assert.rejects(
        addTestCard({ pool, gateway, config, log: memoryLogger() }, { accountId: 'acct-1', number: '4242424242424242' }),
        (e: Error) => e instanceof CardCliError && /only to the sandbox/.test(e.message),
      );
    }
  });

  test('a card needing 3-D Secure is sent to the card form: CC_FORMS_URL, else localhost:CC_FORMS_PORT (the sandbox run: test/cli-card-add.test.ts)', () => {
    assert.equal(cardFormAddress({ CC_FORMS_URL: undefined, CC_FORMS_PORT: 3002 }), 'http://localhost:3002');
    assert.equal(cardFormAddress({ CC_FORMS_URL: 'https://cards.example.test/', CC_FORMS_PORT: 3002 }), 'https://cards.example.test');
    const told = needsAuthenticationMessage('acct-1', 'http://localhost:3002');
    assert.match(told, /3-D Secure authentication, which only the card form in a browser can complete.*Nothing was saved/);
    assert.match(told, /`vault token create --account acct-1`.*http:\/\/localhost:3002\/signin\?link=…/);
    assert.doesNotMatch(told, /try again/i);
    assert.match(needsAuthenticationMessage('acct-1', undefined), /the card form's address \(CC_FORMS_URL\)/);
  });
});
