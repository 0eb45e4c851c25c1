// A gateway that cannot be reached (the sandbox not started, GATEWAY_URL wrong):
// the SDK says only "An error occurred with our connection to Stripe", so
// invoicing's lines name GATEWAY_URL's origin and what the network said
// (ECONNREFUSED 127.0.0.1:PORT). The real SDK against a closed port, the real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '@vault/runtime';
import { eventually, freePort, type TestDatabase } from '@vault/testkit';
import { startCatchUpLoop } from '../src/charging/catch-up-loop.ts';
import { chargingConfig } from '../src/charging/config.ts';
import { invoicingConfig } from '../src/config.ts';
import { chargingDatabase } from './charging-fixture.ts';

describe('a gateway that cannot be reached', () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('the endpoint check, the catch-up and a charge attempt name GATEWAY_URL’s origin and the network’s cause, never the key', {
    timeout: 60_000,
  }, async () => {
    // Nothing listens there: connection refused.
    const port = await freePort();
    const settings = invoicingConfig({
      GATEWAY_URL: `http://127.0.0.1:${port}`,
      GATEWAY_SECRET_KEY: 'sk_test_unreachable_secret',
      GATEWAY_PUBLISHABLE_KEY: 'pk_test_unreachable',
    });
    const charging = await chargingConfig(settings, db.pool);
    assert.equal(charging.gatewayOrigin, `http://127.0.0.1:${port}`);
    const log = memoryLogger();
    // As main.ts starts it: the charging config spread in.
    const loop = startCatchUpLoop({ ...charging, pool: db.pool, log, everyMs: 3_600_000, retryMs: 3_600_000 });
    try {
      await eventually('the run failed', () => log.lines.some((l) => l.includes('event=webhook_catchup.failed')), 30_000);
    } finally {
      await loop.stop();
    }
    const cause = `ECONNREFUSED 127.0.0.1:${port}`;
    for (const event of ['webhook_endpoint.failed', 'webhook_catchup.failed']) {
      const line = log.lines.find((l) => l.includes(`event=${event}`));
      assert.ok(line, `${event}:\n${log.lines.join('\n')}`);
      assert.ok(line.includes(`gateway=http://127.0.0.1:${port}`), line);
      assert.ok(line.includes(`cause="${cause}"`), line);
      assert.ok(!line.includes('sk_test'), 'no key');
    }
    // The charger's attempt: its answer (logged as charge.attempt, stored as the charge's last error) says where too.
    const answer = await charging.gateway.createPaymentIntent({
      invoiceId: 'inv_unreachable',
      accountId: 'acct-unreachable',
      number: 'UNREACH-1',
      amount: 1000,
      currency: 'usd',
      customerId: 'cus_unreachable',
      idempotencyKey: 'key-unreachable',
    });
    assert.ok('error' in answer, JSON.stringify(answer));
    assert.equal(answer.error.kind, 'unanswered');
    assert.match(answer.error.message, new RegExp(`\\(gateway http://127\\.0\\.0\\.1:${port}: ${cause}\\)$`));
  });
});
