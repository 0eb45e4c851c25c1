import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewaySettings, parseConfig } from '@vault/runtime/variables';
import { checkWebhookSecret } from '../src/config.ts';
import { gatewayConfig, GatewayConfigError, gatewayTarget, SandboxKeysMissing, sandboxKeys } from '../src/index.ts';

const target = (env: Record<string, string>) => gatewayTarget(parseConfig(GatewaySettings, env));

/** 'booted', or each variable boot refuses with its message; none of `secrets` in the error. */
function bootOutcome(env: Record<string, string>, secrets: string[] = []): string {
  try {
    target(env);
    return 'booted';
  } catch (err) {
    assert.ok(err instanceof GatewayConfigError, String(err));
    for (const secret of secrets) assert.ok(!err.message.includes(secret), 'a key is not repeated');
    return err.problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
  }
}

/** A database whose gateway_sandbox.api_keys appears after `missingFor` reads (a sandbox booting beside us). */
function database(missingFor: number) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    async query(_text: string) {
      reads++;
      if (reads <= missingFor) throw Object.assign(new Error('relation "gateway_sandbox.api_keys" does not exist'), { code: '42P01' });
      return { rows: [{ secret_key: 'sk_test_generated', publishable_key: 'pk_test_generated' }] };
    },
  };
}

describe('gateway configuration', () => {
  test("unset: the local sandbox on GATEWAY_PORT, its Stripe.js at /v3/, with no keys until read from the sandbox's database", async () => {
    const t = target({ GATEWAY_PORT: '4555' });
    assert.equal(t.url.toString(), 'http://localhost:4555/');
    assert.equal(t.keys, undefined, 'no constant key: each installation has its own');
    assert.equal(t.sandbox, true);
    assert.equal(t.jsUrl.toString(), 'http://localhost:4555/v3/');
    assert.deepEqual(t.origins, ['http://localhost:4555']);
    const c = await gatewayConfig(t, database(0));
    assert.deepEqual([c.secretKey, c.publishableKey], ['sk_test_generated', 'pk_test_generated']);
  });

  test('configured keys win, and the database is not read', async () => {
    const db = database(0);
    const c = await gatewayConfig(target({ GATEWAY_SECRET_KEY: 'sk_test_mine', GATEWAY_PUBLISHABLE_KEY: 'pk_test_mine' }), db);
    assert.deepEqual([c.secretKey, c.publishableKey], ['sk_test_mine', 'pk_test_mine']);
    assert.equal(db.reads, 0);
  });

  test('the sandbox in compose (GATEWAY_URL set, no keys): its keys from the database', () => {
    const t = target({ GATEWAY_URL: 'http://gateway-sandbox:3003' });
    assert.equal(t.keys, undefined);
    assert.equal(t.sandbox, true);
  });

  test('waits for a sandbox booting beside it to publish its keys; without one, names GATEWAY_SECRET_KEY and what to do', async () => {
    const db = database(3);
    const keys = await sandboxKeys(db, { waitMs: 5_000, pollMs: 10 });
    assert.equal(keys.secretKey, 'sk_test_generated');
    assert.equal(db.reads, 4);
    await assert.rejects(sandboxKeys(database(Number.POSITIVE_INFINITY), { waitMs: 50, pollMs: 10 }), (err: unknown) => {
      assert.ok(err instanceof SandboxKeysMissing);
      assert.equal(err.variable, 'GATEWAY_SECRET_KEY');
      assert.match(
        err.message,
        /no keys in this database \(gateway_sandbox\.api_keys\): start the sandbox on the same DATABASE_URL, or set GATEWAY_SECRET_KEY/,
      );
      return true;
    });
  });

  test("Stripe's API: Stripe.js from js.stripe.com, both origins allowed, not the sandbox", () => {
    const t = target({ GATEWAY_URL: 'https://api.stripe.com', GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' });
    assert.equal(t.jsUrl.toString(), 'https://js.stripe.com/v3/');
    // hooks.stripe.com frames the bank's 3-D Secure challenge on the authenticate page.
    assert.deepEqual(t.origins, ['https://api.stripe.com', 'https://js.stripe.com', 'https://hooks.stripe.com']);
    assert.equal(t.sandbox, false);
  });

  test("Stripe's API without keys is refused at boot, naming both variables; one key without the other names the other", () => {
    assert.throws(
      () => target({ GATEWAY_URL: 'https://api.stripe.com' }),
      (err: unknown) => {
        assert.ok(err instanceof GatewayConfigError);
        assert.match(err.message, /GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY/);
        return true;
      },
    );
    assert.throws(() => target({ GATEWAY_SECRET_KEY: 'sk_test_x' }), /GATEWAY_PUBLISHABLE_KEY: required with GATEWAY_SECRET_KEY/);
    assert.throws(() => target({ GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' }), /GATEWAY_SECRET_KEY: required with GATEWAY_PUBLISHABLE_KEY/);
  });

  test("Stripe's API with a Stripe.js from elsewhere (a sandbox's left from another setup) is refused at boot, naming GATEWAY_JS_URL", () => {
    const stripe = { GATEWAY_URL: 'https://api.stripe.com', GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' };
    assert.throws(
      () => target({ ...stripe, GATEWAY_JS_URL: 'http://localhost:3003/v3/' }),
      (err: unknown) => {
        assert.ok(err instanceof GatewayConfigError);
        assert.match(err.message, /GATEWAY_JS_URL: must be https:\/\/js\.stripe\.com\/v3\/ \(or unset\) when GATEWAY_URL is Stripe's API/);
        return true;
      },
    );
    assert.equal(target({ ...stripe, GATEWAY_JS_URL: 'https://js.stripe.com/v3/' }).jsUrl.toString(), 'https://js.stripe.com/v3/');
  });

  test("a GATEWAY_URL with a path (but the API's own /v1), a query or credentials is refused at boot, naming it: the SDK would drop them and call the origin", () => {
    for (const url of [
      'http://proxy.example/stripe',
      'https://api.stripe.com/v2',
      'http://localhost:3003/?x=1',
      'http://u:secret@localhost:3003',
    ]) {
      assert.throws(
        () => target({ GATEWAY_URL: url }),
        (err: unknown) => {
          assert.ok(err instanceof GatewayConfigError, url);
          assert.match(err.message, /GATEWAY_URL: must be the gateway's origin alone/);
          assert.doesNotMatch(err.message, /secret/, 'a password is not repeated');
          return true;
        },
      );
    }
    assert.equal(target({ GATEWAY_URL: 'http://gateway-sandbox:3003/' }).url.toString(), 'http://gateway-sandbox:3003/');
    // The API's own /v1, which the SDK adds itself, as a configuration that worked before says it.
    const stripe = { GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' };
    assert.equal(target({ ...stripe, GATEWAY_URL: 'https://api.stripe.com/v1' }).sandbox, false);
    assert.equal(target({ ...stripe, GATEWAY_URL: 'https://api.stripe.com/v1/' }).sandbox, false);
  });

  test("Stripe's API over http is refused at boot, naming GATEWAY_URL; with a trailing dot it is still Stripe's API", () => {
    const keys = { GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' };
    for (const url of ['http://api.stripe.com', 'http://api.stripe.com.:443']) {
      assert.throws(() => target({ ...keys, GATEWAY_URL: url }), /GATEWAY_URL: must be https when it is Stripe's API/, url);
    }
    const dotted = target({ ...keys, GATEWAY_URL: 'https://api.stripe.com.' });
    assert.equal(dotted.sandbox, false);
    assert.equal(dotted.url.toString(), 'https://api.stripe.com/', 'called, and allowed by the CSP, without the dot');
    assert.deepEqual(dotted.origins, ['https://api.stripe.com', 'https://js.stripe.com', 'https://hooks.stripe.com']);
    // Its Stripe-only checks apply: no keys, or a sandbox's Stripe.js, are refused.
    assert.throws(() => target({ GATEWAY_URL: 'https://api.stripe.com.' }), /GATEWAY_SECRET_KEY and GATEWAY_PUBLISHABLE_KEY are required/);
    assert.throws(
      () => target({ ...keys, GATEWAY_URL: 'https://api.stripe.com.', GATEWAY_JS_URL: 'http://localhost:3003/v3/' }),
      /GATEWAY_JS_URL: must be/,
    );
  });

  test('keys not shaped as Stripe’s, swapped, of mixed modes, or live without Stripe’s API are refused at boot, naming the variable, never the key', () => {
    const stripe = { GATEWAY_URL: 'https://api.stripe.com' };
    const refusal = (env: Record<string, string>) => bootOutcome(env, [env.GATEWAY_SECRET_KEY!, env.GATEWAY_PUBLISHABLE_KEY!]);
    const swapped = refusal({ ...stripe, GATEWAY_SECRET_KEY: 'pk_live_abc123', GATEWAY_PUBLISHABLE_KEY: 'sk_live_def456' });
    assert.match(
      swapped,
      /^GATEWAY_SECRET_KEY: must be a secret key .*swapped\?; GATEWAY_PUBLISHABLE_KEY: must be a publishable key .*it is a secret key/,
    );
    assert.match(
      refusal({ GATEWAY_SECRET_KEY: 'pk_test_abc123', GATEWAY_PUBLISHABLE_KEY: 'sk_test_def456' }),
      /GATEWAY_PUBLISHABLE_KEY: .*it is a secret key/,
      'swapped for the sandbox too',
    );
    assert.match(
      refusal({ ...stripe, GATEWAY_SECRET_KEY: 'mykey123', GATEWAY_PUBLISHABLE_KEY: 'pk_test_x' }),
      /^GATEWAY_SECRET_KEY: must be a secret key/,
    );
    assert.match(
      refusal({ ...stripe, GATEWAY_SECRET_KEY: 'sk_test_x', GATEWAY_PUBLISHABLE_KEY: 'pk_x' }),
      /^GATEWAY_PUBLISHABLE_KEY: must be a publishable key/,
    );
    assert.match(
      refusal({ ...stripe, GATEWAY_SECRET_KEY: 'sk_test_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_live_abc' }),
      /^GATEWAY_PUBLISHABLE_KEY: is a live key but GATEWAY_SECRET_KEY a test one: both test or both live$/,
    );
    assert.match(refusal({ ...stripe, GATEWAY_SECRET_KEY: 'rk_live_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_test_abc' }), /a live one/);
    for (const url of [{}, { GATEWAY_URL: 'http://gateway-sandbox:3003' }] as Record<string, string>[]) {
      assert.match(
        refusal({ ...url, GATEWAY_SECRET_KEY: 'sk_live_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_live_abc' }),
        /^GATEWAY_URL: must be Stripe's API \(https:\/\/api\.stripe\.com\) with live keys/,
      );
    }
    // Every valid pairing still boots: the sandbox's own key shape, test keys anywhere, live ones with Stripe's API.
    for (const env of [
      { GATEWAY_SECRET_KEY: `sk_test_${'0a'.repeat(32)}`, GATEWAY_PUBLISHABLE_KEY: `pk_test_${'0a'.repeat(16)}` },
      { GATEWAY_SECRET_KEY: 'sk_test_vault_tests', GATEWAY_PUBLISHABLE_KEY: 'pk_test_vault_tests' },
      { ...stripe, GATEWAY_SECRET_KEY: 'sk_live_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_live_abc' },
      { ...stripe, GATEWAY_SECRET_KEY: 'rk_live_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_live_abc' },
      { ...stripe, GATEWAY_SECRET_KEY: 'rk_test_abc', GATEWAY_PUBLISHABLE_KEY: 'pk_test_abc' },
    ]) {
      assert.equal(refusal(env), 'booted', JSON.stringify(env));
    }
  });

  test('an IPv6 literal in GATEWAY_URL or GATEWAY_JS_URL is refused at boot, naming it: the card form’s CSP cannot name one', () => {
    const refusal = (env: Record<string, string>) => bootOutcome(env);
    const hostName =
      /must use a host name, not an IPv6 literal \(\[::1\]\).*use a host name \(e\.g\. localhost, or a name in \/etc\/hosts\)$/;
    assert.match(refusal({ GATEWAY_URL: 'http://[::1]:3003' }), new RegExp(`^GATEWAY_URL: ${hostName.source}`));
    assert.match(refusal({ GATEWAY_JS_URL: 'http://[::1]:3003/v3/' }), new RegExp(`^GATEWAY_JS_URL: ${hostName.source}`));
    assert.match(
      refusal({ GATEWAY_URL: 'http://[::ffff:127.0.0.1]:3003', GATEWAY_JS_URL: 'http://[fe80::1]/v3/' }),
      /^GATEWAY_URL: must use a host name, not an IPv6 literal \(\[::ffff:7f00:1\]\).*; GATEWAY_JS_URL: .*\(\[fe80::1\]\)/,
      'both named at once',
    );
    // Host names and IPv4 addresses, which a CSP host-source can name, still boot.
    for (const env of [
      { GATEWAY_URL: 'http://localhost:3003' },
      { GATEWAY_URL: 'http://127.0.0.1:3003', GATEWAY_JS_URL: 'http://127.0.0.1:3003/v3/' },
      { GATEWAY_URL: 'http://gateway-sandbox:3003' },
    ] as Record<string, string>[]) {
      assert.equal(refusal(env), 'booted', JSON.stringify(env));
    }
  });

  test('a GATEWAY_WEBHOOK_SECRET not shaped whsec_… (a trailing newline from a secret file, another key) is refused by checkWebhookSecret, naming it, never the value', () => {
    // Invoicing's boot runs the check (test/config.test.ts); gatewayTarget, which cc-forms and the sandbox use too, does not.
    const bootOutcome = (env: Record<string, string>) => {
      try {
        checkWebhookSecret(parseConfig(GatewaySettings, env).GATEWAY_WEBHOOK_SECRET);
        return 'booted';
      } catch (err) {
        assert.ok(err instanceof GatewayConfigError, String(err));
        return err.problems.map((p) => `${p.variable}: ${p.message}`).join('; ');
      }
    };
    const shape = /^GATEWAY_WEBHOOK_SECRET: must be a webhook endpoint's signing secret, whsec_ then non-whitespace characters/;
    for (const secret of ['whsec_abc123\n', ' whsec_abc123', 'whsec_abc 123', 'whsec_', 'sk_test_abc123', 'we_1AbC23', 'abc123', ' ']) {
      const refusal = bootOutcome({ GATEWAY_WEBHOOK_SECRET: secret });
      assert.match(refusal, shape, JSON.stringify(secret));
      assert.doesNotMatch(refusal, /abc|1AbC23/, 'no part of the value is repeated');
    }
    assert.match(bootOutcome({ GATEWAY_WEBHOOK_SECRET: 'whsec_abc123\n' }), /it has a space or newline around it/);
    // What the sandbox hands out (whsec_ and 32 base62 characters), the Stripe CLI's (64 hex digits), the tests', and unset, boot.
    for (const secret of [`whsec_${'aZ09'.repeat(8)}`, `whsec_${'0f'.repeat(32)}`, 'whsec_credits_app', '']) {
      assert.equal(bootOutcome({ GATEWAY_WEBHOOK_SECRET: secret }), 'booted', JSON.stringify(secret));
    }
    assert.equal(target({ GATEWAY_WEBHOOK_SECRET: 'whsec_by_hand' }).webhookSecret, 'whsec_by_hand');
  });
});
