import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { migrate } from '@vault/db';
import { ADMIN, AUTH, exampleLines, exampleText, settled, startMetering, usageOf, type BusKind, type Metering } from './harness.ts';

const LONG = { timeout: 120_000 };
/** Invoicing's migrations, for the tokens it publishes (metering's code never imports invoicing). */
const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../invoicing/migrations', import.meta.url));
const running: Metering[] = [];
async function metering(kind: BusKind): Promise<Metering> {
  const m = await startMetering(kind);
  running.push(m);
  return m;
}

async function post(m: Metering, body: string, contentType = 'application/x-ndjson') {
  return m.http.inject({ method: 'POST', url: '/v1/events', headers: { ...AUTH, 'content-type': contentType }, payload: body });
}

describe('metering intake: Kafka and HTTP have the same effect (real broker, real PostgreSQL)', () => {
  after(() => Promise.all(running.map((m) => m.close())));

  test(
    'october through Kafka and through POST /v1/events: same usage, 13 applied, 2 duplicates; then invalid: 10 rejected',
    LONG,
    async () => {
      const viaKafka = await metering('kafka');
      const viaHttp = await metering('kafka');

      // What a platform publisher does: one message per event, keyed by subject.
      const october = exampleLines('october.ndjson');
      await viaKafka.bus.publish(
        viaKafka.topic,
        october.map((l) => ({ key: JSON.parse(l).subject, value: l })),
      );
      const res = await post(viaHttp, exampleText('october.ndjson'));
      assert.equal(res.statusCode, 202);
      assert.deepEqual(res.json(), { accepted: 13, duplicates: 2, rejected: [] });

      await settled(viaKafka, 13, 2, 0);
      await settled(viaHttp, 13, 2, 0);
      const usage = await usageOf(viaKafka.db);
      assert.equal(usage.intervals.length, 7);
      assert.deepEqual(await usageOf(viaHttp.db), usage);

      const invalid = exampleLines('invalid.ndjson');
      await viaKafka.bus.publish(
        viaKafka.topic,
        invalid.map((l, i) => ({ key: `bad-${i}`, value: l })),
      );
      const bad = await post(viaHttp, exampleText('invalid.ndjson'));
      assert.equal(bad.statusCode, 202);
      const report = bad.json();
      assert.equal(report.accepted, 0);
      assert.equal(report.rejected.length, 10);
      for (const r of report.rejected) assert.match(r.reason, /\S/, `line ${r.index} has a reason`);

      await settled(viaKafka, 13, 2, 10);
      await settled(viaHttp, 13, 2, 10);
      assert.deepEqual(await usageOf(viaHttp.db), usage, 'rejections leave usage alone');
      for (const m of [viaKafka, viaHttp]) {
        const listed = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json();
        assert.equal(listed.rejected.length, 10);
        assert.deepEqual(listed.rejected.map((r: { raw: string }) => r.raw).sort(), [...invalid].sort(), 'kept whole, as received');
        for (const r of listed.rejected) assert.ok(r.reasons.length > 0 && r.bus_position, `reasons and position for ${r.raw}`);
      }
      const reused = report.rejected.find((r: { reason: string }) => r.reason === 'id: id reused with different content');
      assert.ok(reused, 'the id reused with other content is named at intake');
    },
  );

  test('the HTTP report names each refused line by index, and a JSON array body works like NDJSON', LONG, async () => {
    const m = await metering('embedded');
    const [first, second] = exampleLines('october.ndjson').map((l) => JSON.parse(l));
    const body = JSON.stringify([first, { ...second, sequence: 0 }, first, 'not an event']);
    const res = await post(m, body, 'application/json');
    assert.equal(res.statusCode, 202);
    const report = res.json();
    assert.equal(report.accepted, 1);
    assert.equal(report.duplicates, 1);
    assert.deepEqual(
      report.rejected.map((r: { index: number; id: string | null }) => [r.index, r.id]),
      [
        [1, second.id],
        [3, null],
      ],
    );
    assert.match(report.rejected[0].reason, /^sequence: /);
    await settled(m, 1, 1, 2);
  });

  test('a rejected event, fixed and re-submitted, is applied once and marked resolved', LONG, async () => {
    const m = await metering('embedded');
    const good = exampleLines('october.ndjson')
      .map((l) => JSON.parse(l))
      .find((e) => e.type === 'app.owner_changed');
    const broken = { ...good, data: { ...good.data, account_id: 42 } };
    await post(m, JSON.stringify(broken));
    await settled(m, 0, 0, 1);
    const [kept] = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json().rejected;
    assert.equal(kept.reasons[0].field, 'data.account_id');

    const stillBad = await m.http.inject({
      method: 'POST',
      url: `/v1/rejected/${kept.id}/resubmit`,
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ ...good, time: 'yesterday' }),
    });
    assert.equal(stillBad.statusCode, 422);
    assert.match(stillBad.json().error, /time/);

    const fixed = await m.http.inject({
      method: 'POST',
      url: `/v1/rejected/${kept.id}/resubmit`,
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify(good),
    });
    assert.equal(fixed.statusCode, 202);
    assert.equal(fixed.json().resolved_by, `${good.source}/${good.id}`);
    await settled(m, 1, 0, 1);
    const pending = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json().rejected;
    assert.deepEqual(pending, []);
    const resolved = (await m.http.inject({ method: 'GET', url: '/v1/rejected?status=resolved', headers: AUTH })).json().rejected;
    assert.equal(resolved[0].resolved_by, `${good.source}/${good.id}`);
  });

  test(
    'an event timed before the usage horizon is answered rejected naming time and kept; re-submitted as it was it is refused again (422); at the horizon it applies',
    LONG,
    async () => {
      const m = await metering('embedded');
      await m.db.pool.query(`insert into metering.usage_horizon (month) values ('2026-10-01')`);
      const good = exampleLines('october.ndjson')
        .map((l) => JSON.parse(l))
        .find((e) => e.type === 'app.owner_changed');
      const old = { ...good, time: '2026-09-30T23:59:59Z' };
      const res = await post(m, JSON.stringify(old));
      assert.equal(res.statusCode, 202);
      const report = res.json();
      assert.equal(report.accepted, 0);
      assert.equal(report.rejected[0].reasons[0].field, 'time');
      assert.match(report.rejected[0].reason, /before the usage horizon \(2026-10\)/);
      await settled(m, 0, 0, 1);
      const [kept] = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json().rejected;
      assert.equal(kept.reasons[0].field, 'time');

      const asItWas = await m.http.inject({ method: 'POST', url: `/v1/rejected/${kept.id}/resubmit`, headers: AUTH });
      assert.equal(asItWas.statusCode, 422);
      assert.match(asItWas.json().error, /usage horizon/);
      const atHorizon = await m.http.inject({
        method: 'POST',
        url: `/v1/rejected/${kept.id}/resubmit`,
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload: JSON.stringify({ ...good, time: '2026-10-01T00:00:00Z' }),
      });
      assert.equal(atHorizon.statusCode, 202);
      await settled(m, 1, 0, 1);
    },
  );

  test('every route but /health needs the admin token; bad query parameters are named', LONG, async () => {
    const m = await metering('embedded');
    assert.equal((await m.http.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    for (const url of ['/v1/stats', '/v1/rejected', '/v1/gaps']) {
      assert.equal((await m.http.inject({ method: 'GET', url })).statusCode, 401, url);
      const wrong = await m.http.inject({ method: 'GET', url, headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.statusCode, 401, url);
    }
    assert.equal((await m.http.inject({ method: 'POST', url: '/v1/events', payload: '{}' })).statusCode, 401);
    const bad = await m.http.inject({ method: 'GET', url: '/v1/rejected?limit=0&status=lost', headers: AUTH });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(
      bad
        .json()
        .fields.map((f: { field: string }) => f.field)
        .sort(),
      ['limit', 'status'],
    );
  });

  test(
    'a publisher token reaches POST /v1/events and nothing else; revoked or expired it stops at once; without invoicing it is refused',
    LONG,
    async () => {
      const m = await metering('embedded');
      const publisher = 'vt_pub_metering-intake-test-0123456789a';
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      const events = (token: string) =>
        m.http.inject({
          method: 'POST',
          url: '/v1/events',
          headers: { ...as(token), 'content-type': 'application/x-ndjson' },
          payload: exampleText('october.ndjson'),
        });
      // This database has no invoicing schema: no publisher token works, the admin's does.
      assert.equal((await events(publisher)).statusCode, 401);
      assert.equal((await events(ADMIN)).statusCode, 202);

      // Invoicing's tokens, as `vault token create --publisher` stores them (only the sha256 of the value).
      await migrate(m.db.pool, 'invoicing', INVOICING_MIGRATIONS);
      const store = (id: string, token: string, kind: string, more = '') =>
        m.db.pool.query(
          `insert into invoicing.tokens (id, hash, kind, account_id, expires_at) values ($1, $2, $3, $4, ${more || 'null'})`,
          [id, createHash('sha256').update(token).digest('hex'), kind, kind === 'account' ? 'acct-1' : null],
        );
      await store('tok_00000000000000a1', publisher, 'publisher');
      const res = await events(publisher);
      assert.equal(res.statusCode, 202, res.body);
      for (const [method, url] of [
        ['GET', '/v1/stats'],
        ['GET', '/v1/rejected'],
        ['GET', '/v1/gaps'],
        ['POST', '/v1/rejected/1/resubmit'],
      ] as const) {
        const refused = await m.http.inject({ method, url, headers: as(publisher) });
        assert.equal(refused.statusCode, 403, `${method} ${url}`);
        assert.match(refused.json().error, /a publisher token does not reach this route/);
      }
      // Other kinds of invoicing token are not metering's.
      await store('tok_00000000000000a2', 'vt_fin_metering-intake-test-0123456789a', 'finance');
      await store('tok_00000000000000a3', 'vt_acct_metering-intake-test-0123456789a', 'account');
      assert.equal((await events('vt_fin_metering-intake-test-0123456789a')).statusCode, 401);
      assert.equal((await events('vt_acct_metering-intake-test-0123456789a')).statusCode, 401);
      // Revoked: the very next request is refused. Expired likewise.
      await m.db.pool.query(`update invoicing.tokens set revoked_at = now() where id = 'tok_00000000000000a1'`);
      assert.equal((await events(publisher)).statusCode, 401);
      const expiring = 'vt_pub_metering-intake-expiring-0123456';
      await store('tok_00000000000000a4', expiring, 'publisher', `now() + interval '1 second'`);
      assert.equal((await events(expiring)).statusCode, 202);
      await new Promise((r) => setTimeout(r, 1_100));
      assert.equal((await events(expiring)).statusCode, 401);
    },
  );

  test('GET /v1/gaps lists a subject with a sequence hole until the missing event arrives', LONG, async () => {
    const m = await metering('embedded');
    const ev = (seq: number, type: string, data: object) =>
      JSON.stringify({
        specversion: '1.0',
        id: `g${seq}`,
        source: 'addon-service',
        type,
        time: `2026-10-0${seq}T00:00:00Z`,
        subject: 'addon-g',
        sequence: seq,
        data,
      });
    await post(
      m,
      [
        ev(1, 'addon.provisioned', { app_id: 'app-g', service: 'heroku-redis', plan: 'mini' }),
        ev(3, 'addon.deprovisioned', { app_id: 'app-g' }),
      ].join('\n'),
    );
    await settled(m, 2, 0, 0);
    const gaps = (await m.http.inject({ method: 'GET', url: '/v1/gaps', headers: AUTH })).json().gaps;
    assert.deepEqual(
      gaps.map((g: { subject: string; missing_sequence: string; unreliable_from: string }) => [
        g.subject,
        g.missing_sequence,
        g.unreliable_from,
      ]),
      [['addon-g', '2', '2026-10-01T00:00:00.000Z']],
    );
    await post(m, ev(2, 'addon.plan_changed', { app_id: 'app-g', plan: 'premium-0' }));
    await settled(m, 3, 0, 0);
    assert.deepEqual((await m.http.inject({ method: 'GET', url: '/v1/gaps', headers: AUTH })).json(), { gaps: [], next_after: null });
  });

  test(
    'GET /v1/gaps is read a page at a time: limit and after, next_after null on the last page; an unknown parameter of gaps or rejected is a 400 naming it',
    LONG,
    async () => {
      const m = await metering('embedded');
      const holed = (subject: string) =>
        [1, 3].map((seq) =>
          JSON.stringify({
            specversion: '1.0',
            id: `${subject}-${seq}`,
            source: 'addon-service',
            type: seq === 1 ? 'addon.provisioned' : 'addon.deprovisioned',
            time: `2026-10-0${seq}T00:00:00Z`,
            subject,
            sequence: seq,
            data: seq === 1 ? { app_id: `app-${subject}`, service: 'heroku-redis', plan: 'mini' } : { app_id: `app-${subject}` },
          }),
        );
      await post(m, ['addon-c', 'addon-a', 'addon-b'].flatMap(holed).join('\n'));
      await settled(m, 6, 0, 0);
      const page = async (query: string) => {
        const res = await m.http.inject({ method: 'GET', url: `/v1/gaps${query}`, headers: AUTH });
        return { status: res.statusCode, body: res.json() };
      };
      const first = await page('?limit=2');
      assert.deepEqual(
        first.body.gaps.map((g: { subject: string }) => g.subject),
        ['addon-a', 'addon-b'],
      );
      assert.equal(first.body.next_after, 'addon-b');
      const last = await page(`?limit=2&after=${first.body.next_after}`);
      assert.deepEqual(
        last.body.gaps.map((g: { subject: string }) => g.subject),
        ['addon-c'],
      );
      assert.equal(last.body.next_after, null);
      assert.equal((await page('')).body.gaps.length, 3, 'the default page holds up to 100');
      for (const bad of ['?limit=0', '?limit=1e2', '?limit=1001']) {
        const res = await page(bad);
        assert.equal(res.status, 400, bad);
        assert.match(res.body.error, /limit: must be a whole number from 1 to 1000/, bad);
      }
      // A misspelt parameter is not read as its default: `?state=all` was 200 with the pending ones only.
      for (const [url, name] of [
        ['/v1/gaps?limitt=2', 'limitt'],
        ['/v1/rejected?state=all', 'state'],
        ['/v1/rejected?status=all&afterr=5', 'afterr'],
      ]) {
        const res = await m.http.inject({ method: 'GET', url: url!, headers: AUTH });
        assert.equal(res.statusCode, 400, url);
        assert.match(res.json().error, new RegExp(`^invalid query: ${name}: `), url);
      }
    },
  );
});
