// A gateway cc-forms cannot reach (the sandbox not started, GATEWAY_URL wrong, a
// gateway that never answers): the SDK says only "An error occurred with our
// connection to Stripe", so cc-forms' lines name GATEWAY_URL's origin and what the
// network said, as invoicing's do, never the secret key. The real SDK against a
// closed port and a silent server; the real PostgreSQL.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gatewayClient } from '@vault/gateway';
import { freePort } from '@vault/testkit';
import { GatewayUnavailable, readCardFingerprint, sdkCardGateway } from '../src/cards/gateway.ts';
import { accountToken, signIn, world } from './world.ts';

const SECRET = 'sk_test_cc_forms_unreachable_secret';

describe('cc-forms and a gateway it cannot reach', () => {
  test('the card form with GATEWAY_URL at a closed port: 502, and gateway.error names the origin and ECONNREFUSED, never the key', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const w = await world({ gateway: sdkCardGateway(gatewayClient({ url: new URL(origin), secretKey: SECRET })) });
    try {
      const b = await signIn(w, await accountToken(w, 'acct-unreachable'));
      const res = await b.postJson('/card/setup-intents', {});
      assert.equal(res.statusCode, 502, res.body);
      assert.match(res.json().error.message, /payment gateway is not answering/);
      const line = w.log.lines.find((l) => l.includes('event=gateway.error'));
      assert.ok(line, w.log.lines.join('\n'));
      assert.ok(line.includes('error_class=StripeConnectionError'), line);
      assert.ok(line.includes(`gateway=${origin}`), line);
      assert.ok(line.includes(`cause="ECONNREFUSED 127.0.0.1:${port}"`), line);
      assert.ok(!w.log.lines.join('\n').includes('sk_test'), 'no key in any line');
      assert.ok(!res.body.includes(origin), 'the customer is not told where the gateway is');
    } finally {
      await w.close();
    }
  });

  describe('a gateway that accepts the connection and never answers', () => {
    let server: Server;
    let origin: string;
    const sockets = new Set<Socket>();
    before(async () => {
      server = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test('makeDefault and the fingerprint read time out naming the origin and the timeout, never the key', {
      timeout: 30_000,
    }, async () => {
      const stripe = gatewayClient({ url: new URL(origin), secretKey: SECRET });
      const errors = [
        await sdkCardGateway(stripe, { makeDefaultTimeoutMs: 300 })
          .makeDefault('cus_1', 'pm_1')
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
        await readCardFingerprint(stripe, 'pm_1', 300).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ];
      for (const err of errors) {
        assert.ok(err instanceof GatewayUnavailable, String(err));
        assert.deepEqual(err.unreachable, {
          gateway: origin,
          cause: 'ETIMEDOUT (Request aborted due to timeout being reached (300ms))',
        });
        assert.match(err.message, new RegExp(`; gateway ${origin.replace(/\./g, '\\.')}: ETIMEDOUT`));
        assert.ok(!err.message.includes('sk_test'), err.message);
      }
    });
  });

  test('an answer from the gateway (a 401) is no unreachable gateway: no origin, no cause', { timeout: 30_000 }, async () => {
    const { createServer: createHttp } = await import('node:http');
    const http = createHttp((_req, res) =>
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } })),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const url = new URL(`http://127.0.0.1:${(http.address() as { port: number }).port}`);
      const err = await sdkCardGateway(gatewayClient({ url, secretKey: SECRET }))
        .paymentMethod('pm_1')
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof GatewayUnavailable, String(err));
      assert.deepEqual(err.unreachable, {});
      assert.equal(err.statusCode, 401);
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
