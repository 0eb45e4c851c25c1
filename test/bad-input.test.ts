// Bad input at every door, against the apps as real processes on a fresh
// database: each gets a clear error naming what is wrong (never a 500, never
// half a CSV), changes nothing, and loses nothing valid that came with it.
//
// Only the gaps are here. Already covered, and not repeated:
// - metering: random and mutated events at POST /v1/events and on the bus
//   (services/metering/test/intake-property.test.ts); an array mixing a valid
//   event, a bad sequence and a string (intake.test.ts › the HTTP report names
//   each refused line by index…); 401 without the admin token, bad /v1/rejected
//   parameters (› every route but /health needs the admin token…); a re-submitted
//   fix that is still bad is a 422 (› a rejected event, fixed and re-submitted…);
//   non-UTF-8 bytes off the bus (apply-messages.test.ts › bytes that are not UTF-8…).
// - invoicing: /v1/holds?period=2026-13 (services/invoicing/test/access.test.ts ›
//   a bad period is a 400…); both exports without a period, with 2026-13, October
//   or an extra parameter (exports.test.ts › an account token gets 403…); the web
//   UI's /usage?period=2026-13 (web.test.ts).
// - cc-forms: CSRF missing, wrong or another session's on every POST, and a POST
//   without a session (services/cc-forms/test/web.test.ts › CSRF on every
//   state-changing request; test/card-form.test.ts › a POST without the CSRF token
//   is 403…); a malformed setup intent id (card.test.ts); sign-in without a token.
// - invoicing's gateway webhooks: a wrong or missing signature, an altered body,
//   an old timestamp (services/invoicing/test/charging-webhooks.test.ts › a bad
//   signature…), in process.
// - configuration: parseConfig names every bad variable (packages/runtime/test/
//   config.test.ts); `vault migrate` with INVOICE_GRACE_HOURS=soon exits 1
//   (test/cli.test.ts); the apps refuse GATEWAY_URL without keys at boot
//   (test/gateway-config-boot.test.ts); a database, port, price book or Kafka
//   that is malformed or does not answer stops each app with one line naming
//   the variable (test/boot-errors.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gatewayClient } from '@vault/gateway';
import {
  bootToExit,
  eventually,
  freePort,
  freshDatabase,
  migrateApps,
  startService,
  type RunningService,
  type TestDatabase,
  TEST_GATEWAY_SECRET_KEY,
  TEST_GATEWAY_PUBLISHABLE_KEY,
} from '@vault/testkit';
import { insertInvoice } from './charging-harness.ts';
import { accountToken, operatorLink } from './sign-in-fixture.ts';

const ADMIN = 'bad-input-admin-token-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_bad_input_test';
const admin = { authorization: `Bearer ${ADMIN}` };

let db: TestDatabase;
let metering: RunningService;
let invoicing: RunningService;
let sandbox: RunningService;
let ccForms: RunningService;

before(async () => {
  db = await freshDatabase('badinput');
  // Every app's schema, so invoicing finds metering's views and cc-forms invoicing's tokens.
  await migrateApps(db, 'metering', 'cc-forms', 'invoicing');
  const gatewayPort = await freePort();
  const env = {
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: ADMIN,
    METERING_PORT: String(await freePort()),
    INVOICING_PORT: String(await freePort()),
    CC_FORMS_PORT: String(await freePort()),
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_URL: `http://localhost:${gatewayPort}`,
    GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
    GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
    // Deliveries are verified with this secret; invoicing registers no endpoint.
    GATEWAY_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  [metering, invoicing, sandbox] = await Promise.all([
    startService('metering', env),
    startService('invoicing', env),
    startService('gateway-sandbox', env),
  ]);
  ccForms = await startService('cc-forms', env);
});

after(async () => {
  await Promise.all([metering, invoicing, ccForms, sandbox].map((s) => s?.kill('SIGTERM')));
  await db?.drop();
});

/** No app answered a request with a 500 or logged one. */
function assertNoServerError(app: RunningService): void {
  assert.deepEqual(
    app.lines.filter((l) => /event=http\.error|status=5\d\d/.test(l)),
    [],
    'no 500',
  );
}

describe('metering: POST /v1/events bodies that are not a JSON array of events', () => {
  const post = (body: string | Buffer, contentType = 'application/json') =>
    fetch(`${metering.url}/v1/events`, {
      method: 'POST',
      headers: { ...admin, 'content-type': contentType },
      body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]),
    });
  const stats = async () =>
    (await (await fetch(`${metering.url}/v1/stats`, { headers: admin })).json()) as Record<
      'events_applied' | 'events_duplicate' | 'events_rejected' | 'consumer_lag',
      number
    >;
  const counted = (applied: number, rejected: number) =>
    eventually(`${applied} applied, ${rejected} rejected, no lag`, async () => {
      const s = await stats();
      return s.events_applied === applied && s.events_rejected === rejected && s.consumer_lag === 0;
    });
  const rejected = async () =>
    (
      (await (await fetch(`${metering.url}/v1/rejected?status=all&limit=1000`, { headers: admin })).json()) as {
        rejected: { id: string; raw: string; raw_base64: string | null; reasons: { field: string; code: string }[] }[];
      }
    ).rejected;
  let serial = 0;
  const started = (subject: string) => ({
    specversion: '1.0',
    id: `bad-input-${++serial}`,
    source: 'dyno-manager',
    type: 'dyno.started',
    time: '2026-10-01T00:00:00Z',
    subject,
    sequence: 1,
    data: { app_id: 'app-bad-input', name: 'web.1', size: 'standard-1x' },
  });

  test('a body that opens as an array but is not JSON is a 400 saying so, and puts nothing on the bus', async () => {
    const before = await stats();
    for (const body of ['[{"specversion": "1.0",', '[', '[1,]', '[] trailing', `[${JSON.stringify(started('dyno-broken-array'))}`]) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      const { error } = (await res.json()) as { error: string };
      assert.match(error, /^body is not a JSON array: /, body);
    }
    // A valid event after them is the only thing metering ever sees.
    assert.equal((await post(JSON.stringify([started('dyno-after-broken')]))).status, 202);
    await counted(before.events_applied + 1, before.events_rejected);
    assertNoServerError(metering);
  });

  test('a body with nothing in it (empty, blank lines) is a 400 saying so; an empty array is a batch of no events (CloudEvents), 202 with nothing counted', async () => {
    for (const body of ['', '\n \r\n\t\n']) {
      const res = await post(body, 'application/x-ndjson');
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(await res.json(), { error: 'body holds no events' });
    }
    for (const [body, type] of [
      ['[]', 'application/json'],
      ['  [ ]  ', 'application/json'],
      ['[]', 'application/cloudevents-batch+json'],
    ]) {
      const res = await post(body!, type);
      assert.equal(res.status, 202, JSON.stringify(body));
      assert.deepEqual(await res.json(), { accepted: 0, duplicates: 0, rejected: [] });
    }
  });

  test('every kind of JSON value beside a valid event: 202, the event applied, each other element refused naming the field and kept whole', async () => {
    const before = await stats();
    const valid = started('dyno-beside-junk');
    const junk = [null, 42, 'dyno.started', true, [valid], {}, { ...valid, id: 'bad-input-data', data: [] }, { events: [valid] }];
    const res = await post(JSON.stringify([valid, ...junk]));
    assert.equal(res.status, 202);
    const report = (await res.json()) as { accepted: number; rejected: { index: number; reasons: { field: string; code: string }[] }[] };
    assert.equal(report.accepted, 1);
    assert.deepEqual(
      report.rejected.map((r) => [r.index, r.reasons[0]?.field, r.reasons[0]?.code]),
      [
        [1, '', 'not_object'],
        [2, '', 'not_object'],
        [3, '', 'not_object'],
        [4, '', 'not_object'],
        [5, '', 'not_object'],
        [6, 'specversion', 'required'],
        [7, 'data', 'invalid_type'],
        [8, 'specversion', 'required'],
      ],
    );
    await counted(before.events_applied + 1, before.events_rejected + junk.length);
    const raws = (await rejected()).map((r) => r.raw);
    for (const j of junk) assert.ok(raws.includes(JSON.stringify(j)), `${JSON.stringify(j)} is kept as received`);
  });

  test('one object instead of an array is read as one NDJSON line: refused naming the field, kept, and a 202', async () => {
    const before = await stats();
    const wrapper = JSON.stringify({ events: [started('dyno-in-a-wrapper')] });
    const res = await post(wrapper);
    assert.equal(res.status, 202);
    const report = (await res.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
    assert.equal(report.accepted, 0);
    assert.match(report.rejected[0]!.reason, /^specversion: required; id: required; /);
    await counted(before.events_applied, before.events_rejected + 1);
    assert.ok((await rejected()).some((r) => r.raw === wrapper));
  });

  test('NDJSON lines that are not UTF-8 or not JSON are refused on the whole message and kept byte for byte; the valid line between them applied', async () => {
    const before = await stats();
    const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0x7d]);
    const cut = '{"specversion": "1.0", "id": "cut-short';
    const body = Buffer.concat([notUtf8, Buffer.from(`\n${JSON.stringify(started('dyno-between-bad-lines'))}\n${cut}\n`)]);
    const res = await post(body, 'application/x-ndjson');
    assert.equal(res.status, 202);
    const report = (await res.json()) as { accepted: number; rejected: { index: number; reasons: { field: string; code: string }[] }[] };
    assert.equal(report.accepted, 1);
    assert.deepEqual(
      report.rejected.map((r) => [r.index, r.reasons[0]?.field, r.reasons[0]?.code]),
      [
        [0, '', 'not_json'],
        [2, '', 'not_json'],
      ],
    );
    await counted(before.events_applied + 1, before.events_rejected + 2);
    const kept = await rejected();
    assert.ok(
      kept.some((r) => r.raw_base64 === notUtf8.toString('base64')),
      'the bytes that are not UTF-8 are kept exactly',
    );
    assert.ok(kept.some((r) => r.raw === cut && r.raw_base64 === null));
  });

  test('re-submitting: an id that is no number or no rejection is a 404; a fix that is not JSON is a 422 naming the whole message, and nothing is published', async () => {
    for (const id of ['abc', '1e3', '99999999999999999999', '0']) {
      const res = await fetch(`${metering.url}/v1/rejected/${id}/resubmit`, { method: 'POST', headers: admin });
      assert.equal(res.status, 404, id);
    }
    const before = await stats();
    const [kept] = await rejected();
    const res = await fetch(`${metering.url}/v1/rejected/${kept!.id}/resubmit`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: '{"specversion": ',
    });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: string; reasons: { field: string; code: string }[] };
    assert.match(body.error, /^still rejected: not JSON/);
    assert.deepEqual(
      body.reasons.map((r) => [r.field, r.code]),
      [['', 'not_json']],
    );
    const after = await stats();
    assert.deepEqual(after, before, 'nothing was published');
    assertNoServerError(metering);
  });
});

describe('invoicing: a bad ?period is a 400 naming period on every route that takes one', () => {
  const routes = [
    '/v1/accounts/acct-bad-input/usage',
    '/v1/holds',
    '/v1/exports/invoices.csv',
    '/v1/exports/lines.csv',
    '/v1/exports/credits.csv',
  ];
  // 0000-01: PostgreSQL has no year zero; credits.csv refused it only inside its stream (a 500).
  const periods = ['2026-13', 'abc', '2026-00', '2026-1', '2026-10-01', ' 2026-10', '2026-10%00', '2026-10&period=2026-11', '0000-01'];

  test('JSON naming period (a missing one: "period: required"), never a 500, never the start of a CSV', async () => {
    for (const route of routes) {
      for (const period of periods) {
        const res = await fetch(`${invoicing.url}${route}?period=${period}`, { headers: admin });
        const where = `${route}?period=${period}`;
        assert.equal(res.status, 400, where);
        assert.match(String(res.headers.get('content-type')), /^application\/json/, `${where}: no CSV`);
        assert.equal(res.headers.get('content-disposition'), null, `${where}: no download`);
        const body = (await res.json()) as { error: string; fields: { field: string; message: string }[] };
        assert.deepEqual(
          body.fields.map((f) => f.field),
          ['period'],
          where,
        );
        assert.match(body.error, /^invalid query: period: /, where);
      }
    }
    // A missing one is "required", never zod's "expected string, received undefined".
    for (const route of routes.filter((r) => !r.includes('/usage'))) {
      const res = await fetch(`${invoicing.url}${route}`, { headers: admin });
      assert.equal(res.status, 400, route);
      assert.deepEqual(
        await res.json(),
        { error: 'invalid query: period: required', fields: [{ field: 'period', message: 'required' }] },
        route,
      );
    }
    // A good period still works on the same routes: the exports of a due month with usage that no finalize
    // run has completed yet (the events posted above) are a 409 saying so, not a 400.
    for (const route of routes) {
      const res = await fetch(`${invoicing.url}${route}?period=2026-10`, { headers: admin });
      if (res.status === 409) assert.match(((await res.json()) as { error: string }).error, /no finalize run has completed/, route);
      else assert.equal(res.status, 200, route);
    }
    assertNoServerError(invoicing);
  });
});

describe('cc-forms: card bodies that are not what the form sends (with a valid session and CSRF token)', () => {
  const ACCOUNT = 'acct-bad-input';
  let cookie: string;
  let csrf: string;

  before(async () => {
    // An account token and a sign-in link issued with it, as `vault token create --account` stores them.
    const link = await operatorLink(db.pool, ACCOUNT, await accountToken(db.pool, ACCOUNT));
    // Opened, then confirmed with the page's form (its field and this browser's sign-in cookie).
    const opened = await fetch(`${ccForms.url}/signin?link=${link}`, { redirect: 'manual' });
    const formCookie = /vault_card_session_signin=[^;]+/.exec(opened.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const formCsrf = /<form method="post" action="\/signin">[\s\S]*?name="_csrf" value="([^"]+)"/.exec(await opened.text())?.[1] ?? '';
    const signIn = await fetch(`${ccForms.url}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: formCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ link, _csrf: formCsrf }).toString(),
    });
    cookie = /vault_card_session=[^;]+/.exec(signIn.headers.get('set-cookie') ?? '')?.[0] ?? '';
    assert.ok(cookie, 'signed in');
    const page = await (await fetch(`${ccForms.url}/card`, { headers: { cookie } })).text();
    csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1] ?? '';
    assert.ok(csrf, 'the card page carries a CSRF token');
  });

  const post = (url: string, body: string, contentType = 'application/json') =>
    fetch(`${ccForms.url}${url}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': contentType },
      body,
    });

  test('not JSON, the wrong JSON, the wrong type, too large: a 4xx with a message naming the problem, and nothing stored or counted', async () => {
    const cases: [url: string, body: string, contentType: string, status: number, message: RegExp][] = [
      ['/card', '{"setup_intent": ', 'application/json', 400, /not valid JSON/],
      ['/card', '', 'application/json', 400, /cannot be empty/],
      ['/card', '[]', 'application/json', 400, /^body: .*expected object/],
      ['/card', '"seti_123"', 'application/json', 400, /^body: .*expected object/],
      ['/card', 'setup_intent seti_123', 'text/plain', 400, /^body: .*expected object/],
      ['/card', '{}', 'application/json', 400, /^setup_intent: /],
      ['/card', '{"setup_intent": 42}', 'application/json', 400, /^setup_intent: .*expected string/],
      ['/card', '{"setup_intent": ["seti_123"]}', 'application/json', 400, /^setup_intent: /],
      ['/card', JSON.stringify({ setup_intent: `seti_${'a'.repeat(2000)}` }), 'application/json', 413, /too large/],
      ['/card/setup-intents', '{"broken"', 'application/json', 400, /not valid JSON/],
      ['/card/setup-intents', 'x'.repeat(2000), 'application/json', 413, /too large/],
    ];
    for (const [url, body, contentType, status, message] of cases) {
      const res = await post(url, body, contentType);
      const where = `${url} ${contentType} ${body.slice(0, 40)}`;
      assert.equal(res.status, status, where);
      const answer = (await res.json()) as { error: { code: string; message: string } };
      assert.match(answer.error.message, message, where);
    }
    const stored = await db.pool.query(
      `select (select count(*) from cc_forms.cards where account_id = $1)::int as cards,
              (select count(*) from cc_forms.card_attempts where account_id = $1)::int as attempts`,
      [ACCOUNT],
    );
    assert.deepEqual(stored.rows[0], { cards: 0, attempts: 0 });
    assertNoServerError(ccForms);
  });

  test('a sign-in link that is too long or given twice is a 400 page, and opens no session', async () => {
    for (const query of [`?link=${'x'.repeat(600)}`, '?link=a&link=b']) {
      const res = await fetch(`${ccForms.url}/signin${query}`, { redirect: 'manual' });
      assert.equal(res.status, 400, query.slice(0, 20));
      assert.match(String(res.headers.get('content-type')), /^text\/html/);
      assert.equal(res.headers.get('set-cookie'), null);
    }
  });
});

describe('invoicing: gateway webhooks that are not a signed event', () => {
  const stripe = gatewayClient({ url: new URL('http://127.0.0.1:9'), secretKey: 'sk_test_unused' });
  const sign = (payload: string, secret = WEBHOOK_SECRET) => stripe.webhooks.generateTestHeaderString({ payload, secret });
  const deliver = (payload: string, signature: string, contentType = 'application/json') =>
    fetch(`${invoicing.url}/v1/gateway/webhooks`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'stripe-signature': signature },
      body: payload,
    });
  const paid = (id: string) =>
    JSON.stringify({
      id,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: 'pi_bad_input',
          object: 'payment_intent',
          status: 'succeeded',
          amount: 999,
          amount_received: 999,
          currency: 'usd',
          metadata: { invoice_id: 'inv-bad-input' },
        },
      },
    });

  test('a bad signature, a signed body that is no event, or the wrong content type: 400 naming the problem, the invoice unpaid, nothing recorded', async () => {
    await insertInvoice(db.pool, { id: 'inv-bad-input', account: 'acct-bad-input', total: '9.99' });
    // Charging's record of the invoice's own PaymentIntent: only it can pay the invoice.
    await db.pool.query(
      `insert into invoicing.charges (invoice_id, payment_intent_id, state, attempts, next_attempt_at) values ('inv-bad-input', 'pi_bad_input', 'scheduled', 0, now())`,
    );
    const cases: [payload: string, signature: string, contentType: string, error: RegExp][] = [
      [paid('evt_forged'), sign(paid('evt_forged'), 'whsec_someone_else'), 'application/json', /signature does not match/],
      [paid('evt_garbage_sig'), 'garbage', 'application/json', /signature does not match/],
      [paid('evt_text'), sign(paid('evt_text')), 'text/plain', /expected a JSON body with a Stripe-Signature header/],
      ['[]', sign('[]'), 'application/json', /^event: .*expected object/],
      ['{"id": "evt_no_type"}', sign('{"id": "evt_no_type"}'), 'application/json', /^type: /],
      [
        '{"id": "evt_bad_data", "type": "payment_intent.succeeded", "data": 5}',
        sign('{"id": "evt_bad_data", "type": "payment_intent.succeeded", "data": 5}'),
        'application/json',
        /^data: /,
      ],
      [
        '{"type": "payment_intent.succeeded", "data": {"object": {}}}',
        sign('{"type": "payment_intent.succeeded", "data": {"object": {}}}'),
        'application/json',
        /^id: /,
      ],
    ];
    for (const [payload, signature, contentType, error] of cases) {
      const res = await deliver(payload, signature, contentType);
      assert.equal(res.status, 400, payload);
      assert.match(((await res.json()) as { error: string }).error, error, payload);
    }
    const { rows } = await db.pool.query(
      `select status, (select count(*) from invoicing.gateway_events)::int as events from invoicing.invoices where id = 'inv-bad-input'`,
    );
    assert.deepEqual(rows[0], { status: 'finalized', events: 0 });
    // The same delivery, correctly signed, is what changes it.
    assert.equal((await deliver(paid('evt_good'), sign(paid('evt_good')))).status, 200);
    const { rows: now } = await db.pool.query(`select status from invoicing.invoices where id = 'inv-bad-input'`);
    assert.equal(now[0].status, 'paid');
    assertNoServerError(invoicing);
  });
});

describe('configuration: a bad value in the environment stops the app at boot', () => {
  let fresh: TestDatabase;
  before(async () => (fresh = await freshDatabase('badconfig')));
  after(() => fresh?.drop());

  const cases: [app: string, bad: Record<string, string>, named: string[]][] = [
    ['metering', { METERING_PORT: 'abc' }, ['METERING_PORT']],
    ['invoicing', { INVOICE_GRACE_HOURS: '-1' }, ['INVOICE_GRACE_HOURS']],
    ['invoicing', { PAYMENT_RETRY_SCHEDULE: 'garbage' }, ['PAYMENT_RETRY_SCHEDULE']],
    ['cc-forms', { CARD_ATTEMPTS_PER_HOUR: '0' }, ['CARD_ATTEMPTS_PER_HOUR']],
    ['gateway-sandbox', { GATEWAY_SANDBOX_LATENCY_MS: '-5' }, ['GATEWAY_SANDBOX_LATENCY_MS']],
    // Each app parses only its own variables: invoicing's and the CLI's bad ones are not metering's business.
    [
      'metering',
      { METERING_PORT: '70000', KAFKA_BROKERS: 'kafka', INVOICE_FINALIZE_EVERY_SECONDS: 'hourly', KAFKA_CONTROLLER_PORT: '0' },
      ['KAFKA_BROKERS', 'METERING_PORT'],
    ],
  ];
  for (const [app, bad, named] of cases) {
    test(`${app} with ${Object.entries(bad)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}: exit 1 with one config.invalid line naming ${named.join(', ')}, before touching the database`, {
      timeout: 60_000,
    }, async () => {
      const { status, lines } = await bootToExit(app, { DATABASE_URL: fresh.url, HOST: '127.0.0.1', ADMIN_TOKEN: ADMIN, ...bad });
      assert.equal(status, 1, lines.join('\n'));
      const invalid = lines.filter((l) => l.includes('event=config.invalid'));
      assert.equal(invalid.length, 1, lines.join('\n'));
      const variables = [...invalid[0]!.matchAll(/([A-Z][A-Z0-9_]+): /g)].map((m) => m[1]).sort();
      assert.deepEqual(variables, named);
      assert.ok(!lines.some((l) => /app\.listening|db\.migrated/.test(l)), 'it neither migrated nor listened');
      const schemas = await fresh.pool.query(
        `select schema_name from information_schema.schemata where schema_name in ('metering', 'invoicing', 'cc_forms', 'gateway_sandbox', 'bus')`,
      );
      assert.deepEqual(schemas.rows, []);
    });
  }
});
