// A gateway set without its keys is a configuration error at boot, reported
// the same way by every app that uses the gateway, never a crash at first use.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, freshDatabase, startService, type TestDatabase } from '@vault/testkit';

describe('apps refuse to boot with a gateway but no keys', () => {
  let db: TestDatabase;
  before(async () => (db = await freshDatabase('gwcfg')));
  after(() => db?.drop());

  for (const [app, portVar] of [
    ['cc-forms', 'CC_FORMS_PORT'],
    ['gateway-sandbox', 'GATEWAY_PORT'],
    ['invoicing', 'INVOICING_PORT'],
  ] as const) {
    test(`${app}: config.invalid naming GATEWAY_URL, exit 1`, async () => {
      const env = {
        [portVar]: String(await freePort()),
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        ADMIN_TOKEN: 'gateway-config-admin-token-0123456789',
        GATEWAY_URL: 'https://api.stripe.com',
        GATEWAY_SECRET_KEY: '',
        GATEWAY_PUBLISHABLE_KEY: '',
      };
      await assert.rejects(startService(app, env), (err: Error) => {
        assert.match(err.message, /it exited/);
        assert.match(err.message, /event=config\.invalid .*GATEWAY_URL: GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY are required/);
        return true;
      });
    });
  }
});
