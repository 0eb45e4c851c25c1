// Metering's answer to invoicing's tokens it does not take. A publisher token (which metering
// checks, in invoicing.publisher_tokens) on an admin route is 403 naming what it may not do. A
// real account or finance token, which metering cannot check (it reads only the publisher tokens),
// was `401 invalid token`: false, it works on invoicing. It stays 401 (a forged one of the same
// shape looks alike here, so a 403 would vouch for it) but says metering cannot verify it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { migrate } from '@vault/db';
import { ADMIN, startMetering, type Metering } from './harness.ts';

const LONG = { timeout: 120_000 };
const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../invoicing/migrations', import.meta.url));
const ACCOUNT = 'vt_acct_unverifiable-tokens-test-0123456';
const FINANCE = 'vt_fin_unverifiable-tokens-test-0123456';
const PUBLISHER = 'vt_pub_unverifiable-tokens-test-0123456';
const FORGED = 'vt_acct_forged-never-issued-by-invoicing';

describe('metering: invoicing’s tokens it does not take are 401 saying it cannot verify them, not "invalid" (real PostgreSQL)', () => {
  let m: Metering | undefined;
  after(() => m?.close());

  test(
    'account and finance tokens: 401 naming the kind and the route’s tokens; a publisher token 403; junk, a forged or a revoked token as before',
    LONG,
    async () => {
      m = await startMetering('embedded');
      const http = m.http;
      const call = (method: 'GET' | 'POST', url: string, token: string) =>
        http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, remoteAddress: '10.9.0.1' });

      // Without invoicing's schema metering cannot check a publisher token either: it says so.
      const early = await call('GET', '/v1/stats', PUBLISHER);
      assert.equal(early.statusCode, 401);
      assert.deepEqual(early.json(), {
        error: "metering cannot verify a publisher token: invoicing's tokens are not in this database: this route is for admin tokens",
      });

      await migrate(m.db.pool, 'invoicing', INVOICING_MIGRATIONS);
      const store = (id: string, token: string, kind: string) =>
        m!.db.pool.query('insert into invoicing.tokens (id, hash, kind, account_id) values ($1, $2, $3, $4)', [
          id,
          createHash('sha256').update(token).digest('hex'),
          kind,
          kind === 'account' ? 'acct-1' : null,
        ]);
      await store('tok_0000000000000ua1', ACCOUNT, 'account');
      await store('tok_0000000000000uf1', FINANCE, 'finance');
      await store('tok_0000000000000up1', PUBLISHER, 'publisher');

      for (const [method, url] of [
        ['GET', '/v1/stats'],
        ['GET', '/v1/rejected'],
        ['GET', '/v1/gaps'],
        ['POST', '/v1/rejected/1/resubmit'],
      ] as const) {
        for (const [token, kind] of [
          [ACCOUNT, 'an account'],
          [FINANCE, 'a finance'],
        ] as const) {
          const res = await call(method, url, token);
          assert.equal(res.statusCode, 401, `${method} ${url} ${kind}`);
          assert.equal(res.headers['www-authenticate'], 'Bearer');
          assert.deepEqual(res.json(), { error: `metering cannot verify ${kind} token (invoicing's): this route is for admin tokens` });
        }
        const publisher = await call(method, url, PUBLISHER);
        assert.equal(publisher.statusCode, 403, `${method} ${url} publisher`);
        assert.deepEqual(publisher.json(), { error: 'a publisher token does not reach this route: it is for admin tokens' });
      }
      const events = await call('POST', '/v1/events', ACCOUNT);
      assert.equal(events.statusCode, 401);
      assert.deepEqual(events.json(), {
        error: "metering cannot verify an account token (invoicing's): this route is for admin or publisher tokens",
      });

      // A forged token of the same shape gets the very same answer: nothing is vouched for.
      assert.deepEqual((await call('GET', '/v1/stats', FORGED)).json(), (await call('GET', '/v1/stats', ACCOUNT)).json());
      // Anything else metering could have checked is invalid, as before: junk, a revoked publisher token.
      assert.deepEqual((await call('GET', '/v1/stats', 'not-a-token')).json(), { error: 'invalid token' });
      await m.db.pool.query(`update invoicing.tokens set revoked_at = now() where id = 'tok_0000000000000up1'`);
      assert.deepEqual((await call('GET', '/v1/stats', PUBLISHER)).json(), { error: 'invalid token' });
      // The admin token reaches it all.
      assert.equal((await call('GET', '/v1/stats', ADMIN)).statusCode, 200);
    },
  );
});
