import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CloudEvent, CONSTANTS, emitterFor, HTTP, httpTransport, Mode, type Message } from 'cloudevents';
import { migrate } from '@vault/db';
import { AUTH, settled, startMetering, stats, usageOf, type Metering } from './harness.ts';

// Publishers use the CloudEvents SDK (events-v1.md): every HTTP content mode it
// speaks, built by the SDK itself and sent by its own emitter and transport.
const LONG = { timeout: 120_000 };
const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../invoicing/migrations', import.meta.url));
const PUBLISHER = 'vt_pub_cloudevents-http-test-0123456789';
const BEARER = { authorization: `Bearer ${PUBLISHER}` };

let m: Metering;
let url: string;
before(async () => {
  m = await startMetering('embedded');
  await migrate(m.db.pool, 'invoicing', INVOICING_MIGRATIONS);
  await m.db.pool.query(`insert into invoicing.tokens (id, hash, kind) values ('tok_0000000000000ce1', $1, 'publisher')`, [
    createHash('sha256').update(PUBLISHER).digest('hex'),
  ]);
  await m.http.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(m.http.server.address() as AddressInfo).port}/v1/events`;
});
after(() => m?.close());

let serial = 0;
/** One dyno's two events, as a publisher builds them with the SDK (times as the SDK writes them). */
type Event = CloudEvent<Record<string, string>>;
function dyno(app = 'app-ce-http'): [Event, Event] {
  const subject = `dyno-ce-http-${++serial}`;
  const common = { source: 'dyno-manager', subject };
  return [
    new CloudEvent<Record<string, string>>({
      ...common,
      id: `${subject}-a`,
      type: 'dyno.started',
      time: '2026-10-03T14:00:00.000Z',
      sequence: 1,
      data: { app_id: app, name: 'web.1', size: 'standard-1x' },
    }),
    new CloudEvent<Record<string, string>>({
      ...common,
      id: `${subject}-b`,
      type: 'dyno.stopped',
      time: '2026-10-03T16:00:00.000Z',
      sequence: 2,
      data: { app_id: app },
    }),
  ];
}

interface Report {
  accepted: number;
  duplicates: number;
  rejected: { index: number; id: string | null; reason: string; reasons: { field: string; code: string }[] }[];
}
/** The SDK's transport resolves with the body only: a report proves a 202, an error body never has one. */
const report = (response: unknown): Report => {
  const body = String((response as { body: unknown }).body);
  const parsed = JSON.parse(body) as Report;
  assert.equal(typeof parsed.accepted, 'number', `an intake report, not ${body}`);
  return parsed;
};
/** An SDK-built message sent with fetch, to see the status as well. */
async function send(message: Message, headers: Record<string, string> = BEARER) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...(message.headers as Record<string, string>), ...headers },
    body: String(message.body),
  });
  return { status: res.status, body: (await res.json()) as Report & { error?: string } };
}
const ndjson = (events: Event[]) => `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;

describe('POST /v1/events: every CloudEvents HTTP content mode, as the SDK sends it (real PostgreSQL, embedded bus)', () => {
  test(
    'binary (the emitter default), structured, pretty-printed, batched, NDJSON and an array, with a publisher token: each event applied once, and the answers count what the consumer counts',
    LONG,
    async () => {
      const binary = emitterFor(httpTransport(url));
      const structured = emitterFor(httpTransport(url), { binding: HTTP, mode: Mode.STRUCTURED });
      const transport = httpTransport(url);
      const [a1, a2] = dyno();
      const [b1, b2] = dyno();
      const [c1, c2] = dyno();
      const [d1, d2] = dyno();
      const [e1, e2] = dyno();
      const answers: Report[] = [];

      // The emitter's default is binary mode: the attributes as ce- headers, the data as the body.
      assert.deepEqual(HTTP.binary(a1).headers[CONSTANTS.HEADER_CONTENT_TYPE], 'application/json; charset=utf-8');
      for (const e of [a1, a2]) answers.push(report(await binary(e, { headers: BEARER })));
      for (const e of [b1, b2]) answers.push(report(await structured(e, { headers: BEARER })));
      const pretty = { headers: HTTP.structured(c1).headers, body: JSON.stringify(c1, null, 2) };
      assert.match(String(pretty.body), /\n {2}"id"/);
      answers.push(report(await transport(pretty, { headers: BEARER })));
      const batch = { headers: { 'content-type': `${CONSTANTS.MIME_CE_BATCH}; charset=utf-8` }, body: JSON.stringify([c2, d1, a1]) };
      answers.push(report(await transport(batch, { headers: BEARER })));
      const lines = { headers: { 'content-type': 'application/x-ndjson' }, body: ndjson([d2, e1, b2]) };
      answers.push(report(await transport(lines, { headers: BEARER })));
      const array = { headers: { 'content-type': 'application/json' }, body: JSON.stringify([e2, a2]) };
      answers.push(report(await transport(array, { headers: BEARER })));
      answers.push(report(await binary(c1, { headers: BEARER })));

      assert.deepEqual(
        answers.map((r) => [r.accepted, r.duplicates, r.rejected.length]),
        [
          [1, 0, 0],
          [1, 0, 0],
          [1, 0, 0],
          [1, 0, 0],
          [1, 0, 0],
          [2, 1, 0],
          [2, 1, 0],
          [1, 1, 0],
          [0, 1, 0],
        ],
      );
      await settled(m, 10, 4, 0);
      const usage = await usageOf(m.db);
      const mine = usage.intervals.filter((i) => [a1, b1, c1, d1, e1].some((e) => e.subject === i.subject));
      assert.equal(mine.length, 5);
      for (const i of mine) assert.deepEqual([i.from, i.to], ['2026-10-03 14:00:00+00', '2026-10-03 16:00:00+00']);
    },
  );

  test(
    'an invalid binary-mode event is answered as rejected, kept with its attributes and data as structured JSON, and applied once fixed and re-submitted',
    LONG,
    async () => {
      const before = await stats(m);
      const [started] = dyno();
      const wrong = started.cloneWith({ sequence: 3 });
      const answer = report(await emitterFor(httpTransport(url))(wrong, { headers: BEARER }));
      assert.equal(answer.accepted, 0);
      assert.deepEqual(
        answer.rejected.map((r) => [r.index, r.id, r.reasons[0]?.field, r.reasons[0]?.code]),
        [[0, wrong.id, 'sequence', 'sequence_mismatch']],
      );
      await settled(m, before.events_applied!, before.events_duplicate!, before.events_rejected! + 1);
      const listed = (await m.http.inject({ method: 'GET', url: '/v1/rejected', headers: AUTH })).json() as {
        rejected: { id: string; raw: string; event_id: string }[];
      };
      const kept = listed.rejected.find((r) => r.event_id === wrong.id)!;
      const structured = JSON.parse(kept.raw) as Record<string, unknown>;
      assert.deepEqual(structured, JSON.parse(wrong.toString()), 'every attribute and the data, as structured JSON');

      const fixed = await m.http.inject({
        method: 'POST',
        url: `/v1/rejected/${kept.id}/resubmit`,
        headers: { ...AUTH, 'content-type': 'application/cloudevents+json' },
        payload: JSON.stringify({ ...structured, sequence: 1 }),
      });
      assert.equal(fixed.statusCode, 202, fixed.body);
      assert.deepEqual(fixed.json(), { resolved_by: `dyno-manager/${wrong.id}`, duplicate: false });
      await settled(m, before.events_applied! + 1, before.events_duplicate!, before.events_rejected! + 1);
    },
  );

  test('a body metering cannot read is a 400 or 415 naming why, never a 2xx, and nothing of it reaches the bus', LONG, async () => {
    const before = await stats(m);
    const [started, stopped] = dyno();
    const cases: [Message, number, RegExp][] = [
      [
        { ...HTTP.binary(started), body: '{"app_id": "app-ce-http", "name": ' },
        400,
        /^body is not JSON \(in binary mode the body is the event's data\): /,
      ],
      [{ headers: { ...HTTP.binary(started).headers, 'content-type': 'text/plain' }, body: 'web.1' }, 415, /must be application\/json/],
      [{ ...HTTP.structured(started), body: String(HTTP.structured(started).body).slice(0, -3) }, 400, /^body is not JSON /],
      [{ ...HTTP.structured(started), body: JSON.stringify([started]) }, 400, /cloudevents-batch\+json/],
      [{ headers: { 'content-type': CONSTANTS.MIME_CE_BATCH }, body: started.toString() }, 400, /^body is not a JSON array/],
      [
        { headers: { 'content-type': 'text/plain' }, body: ndjson([started]) },
        415,
        /^content-type text\/plain is not one this route reads/,
      ],
      [{ headers: { 'content-type': 'application/json; charset=utf-16' }, body: ndjson([started]) }, 415, /charset utf-16/],
    ];
    for (const [message, status, error] of cases) {
      const res = await send(message);
      assert.equal(res.status, status, JSON.stringify(message));
      assert.match(res.body.error ?? '', error);
    }
    // A valid event after them is the only thing the consumer ever sees.
    const res = await send(HTTP.binary(stopped));
    assert.equal(res.status, 202);
    assert.equal(res.body.accepted, 1);
    await settled(m, before.events_applied! + 1, before.events_duplicate!, before.events_rejected!);
  });

  test(
    "an id with an escape the binding never needs (%2F): the SDK's binary message is a 400 naming ce-id and its structured copy applied once; escaped as an encoder that escapes needlessly sends it (ce-time's : as %3A), it is decoded and its structured copy a duplicate",
    LONG,
    async () => {
      const before = await stats(m);
      const [started] = dyno();
      // The JS SDK does not percent-encode: this id goes out as order%2F7…, which the binding reads as order/7….
      const literal = started.cloneWith({ id: `order%2F7-${started.subject}` });
      assert.equal(HTTP.binary(literal).headers['ce-id'], literal.id);
      for (let i = 0; i < 2; i++) {
        const binary = await send(HTTP.binary(literal));
        assert.equal(binary.status, 400, JSON.stringify(binary.body));
        assert.match(binary.body.error ?? '', /^header ce-id holds %2F \(\/ escaped\), which the CloudEvents HTTP binding never needs/);
      }
      const structured = await send(HTTP.structured(literal));
      assert.equal(structured.status, 202);
      assert.deepEqual([structured.body.accepted, structured.body.duplicates], [1, 0]);

      // As the Python SDK writes every header (quote(safe="")): each character but [A-Za-z0-9_.~-] escaped.
      const [second] = dyno();
      const slashed = second.cloneWith({ id: `order/8-${second.subject}` });
      const escapeAll = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
      const message = HTTP.binary(slashed);
      const headers = Object.fromEntries(
        Object.entries(message.headers).map(([k, v]) => [k, k.startsWith('ce-') ? escapeAll(String(v)) : String(v)]),
      );
      assert.match(headers['ce-time']!, /%3A/);
      const escaped = await send({ headers, body: message.body });
      assert.equal(escaped.status, 202, JSON.stringify(escaped.body));
      assert.deepEqual([escaped.body.accepted, escaped.body.duplicates], [1, 0]);
      const copy = await send(HTTP.structured(slashed));
      assert.deepEqual([copy.body.accepted, copy.body.duplicates], [0, 1], 'its structured copy is the same event');
      await settled(m, before.events_applied! + 2, before.events_duplicate! + 1, before.events_rejected!);
    },
  );

  test(
    'two identical batches posted at the same time: each event is counted accepted by exactly one answer, as the consumer applies it once and counts the other copy a duplicate',
    LONG,
    async () => {
      const before = await stats(m);
      let accepted = 0;
      let duplicates = 0;
      for (let round = 0; round < 4; round++) {
        const events = Array.from({ length: 15 }, () => dyno()).flat();
        // Round 3 overlaps by half only: the answers' sums still match the consumer.
        const [first, second] = round === 3 ? [events.slice(0, 20), events.slice(10)] : [events, events];
        const post = (batch: Event[]) => send({ headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(batch) });
        const answers = await Promise.all([post(first), post(second)]);
        for (const a of answers) assert.equal(a.status, 202);
        const sum = (k: 'accepted' | 'duplicates') => answers[0]!.body[k] + answers[1]!.body[k];
        assert.equal(sum('accepted'), events.length, `round ${round}: every event accepted once`);
        assert.equal(sum('duplicates'), first.length + second.length - events.length, `round ${round}`);
        accepted += sum('accepted');
        duplicates += sum('duplicates');
      }
      await settled(m, before.events_applied! + accepted, before.events_duplicate! + duplicates, before.events_rejected!);
    },
  );
});
