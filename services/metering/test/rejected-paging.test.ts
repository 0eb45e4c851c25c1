// GET /v1/rejected pages, walked to the end through the real metering process:
// ids used to be sorted as text ('10' before '2') and compared as numbers, so
// following `next_after` skipped rejections.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RejectedList } from '@vault/contracts';
import { eventually, freePort, startService, type RunningService, type TestDatabase } from '@vault/testkit';
import { ADMIN, meteringDatabase } from './harness.ts';

const AUTH = { authorization: `Bearer ${ADMIN}` };
/** Enough to cross 9 → 10 and 99 → 100 in every status. */
const REJECTIONS = 125;
type Status = 'pending' | 'resolved' | 'all';

describe('GET /v1/rejected pages (the real metering process over HTTP)', () => {
  let db: TestDatabase;
  let metering: RunningService;
  const get = (path: string) => fetch(`${metering.url}${path}`, { headers: AUTH });

  before(async () => {
    db = await meteringDatabase();
    metering = await startService('metering', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: '',
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      METERING_PORT: String(await freePort()),
    });
    // Each line invalid (no time, subject, sequence, data) and distinct: one rejection each.
    const lines = Array.from({ length: REJECTIONS }, (_, i) =>
      JSON.stringify({ specversion: '1.0', id: `paging-${i}`, source: 'paging-test', type: 'dyno.started' }),
    );
    const posted = await fetch(`${metering.url}/v1/events`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    assert.equal(posted.status, 202, await posted.text());
    await eventually('every rejection kept', async () => (await stored()).length === REJECTIONS, 60_000);
    // Every third one fixed and re-submitted, so each status has ids on both sides of 10 and 100.
    for (const [i, r] of (await stored()).entries()) {
      if (i % 3 !== 0) continue;
      const fixed = await fetch(`${metering.url}/v1/rejected/${r.id}/resubmit`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify(validEvent(r.id)),
      });
      assert.equal(fixed.status, 202, await fixed.text());
    }
  });

  after(async () => {
    await metering?.kill('SIGTERM');
    await db?.drop();
  });

  /** The source of truth: the rejections table, in numeric id order. */
  async function stored(status: Status = 'all'): Promise<{ id: string }[]> {
    const where = { pending: 'resolved_at is null', resolved: 'resolved_at is not null', all: 'true' }[status];
    const { rows } = await db.pool.query<{ id: string }>(
      `select id::text as id from metering.rejected_events where ${where} order by id::bigint`,
    );
    return rows;
  }

  /** Every page from the start, following next_after; checks each page on the way. */
  async function walk(status: Status, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let after = '0';
    for (let pages = 0; ; pages++) {
      assert.ok(pages <= REJECTIONS, 'the walk ends');
      const res = await get(`/v1/rejected?status=${status}&limit=${limit}&after=${after}`);
      assert.equal(res.status, 200);
      const page = RejectedList.parse(await res.json());
      const ids = page.rejected.map((r) => r.id);
      for (const id of ids) {
        assert.ok(BigInt(id) > BigInt(after), `${status} page after ${after}: ${id} comes after it (page ${ids.join(',')})`);
        after = id;
      }
      if (status !== 'all')
        for (const r of page.rejected) assert.equal(r.resolved_at !== null, status === 'resolved', `${r.id} is ${status}`);
      seen.push(...ids);
      if (page.next_after === null) {
        assert.ok(ids.length < limit, 'only a page shorter than the limit is the last');
        return seen;
      }
      assert.equal(ids.length, limit, 'a page with a next_after is full');
      assert.equal(page.next_after, ids.at(-1), 'next_after is the last id of the page');
    }
  }

  test('following next_after walks every rejection exactly once, in id order, for each status, across ids 9 → 10 and 99 → 100', async () => {
    assert.equal((await stored('resolved')).length, 42, 'every third rejection resolved');
    for (const status of ['pending', 'resolved', 'all'] as const) {
      const want = (await stored(status)).map((r) => r.id);
      const numbers = want.map(Number);
      assert.ok(
        numbers.some((n) => n < 10) && numbers.some((n) => n >= 10 && n < 100) && numbers.some((n) => n >= 100),
        `${status}: ids on both sides of 10 and 100 (${want.join(',')})`,
      );
      for (const limit of [10, 7, 1]) {
        assert.deepEqual(await walk(status, limit), want, `${status}, limit ${limit}: every rejection once, in order`);
      }
    }
  });

  test('a page ending exactly on the last rejection is followed by an empty last page', async () => {
    const all = (await stored()).map((r) => r.id);
    const res = await get(`/v1/rejected?status=all&limit=5&after=${all.at(-6)}`);
    const full = RejectedList.parse(await res.json());
    assert.deepEqual(
      full.rejected.map((r) => r.id),
      all.slice(-5),
    );
    assert.equal(full.next_after, all.at(-1));
    const last = RejectedList.parse(await (await get(`/v1/rejected?status=all&limit=5&after=${full.next_after}`)).json());
    assert.deepEqual(last, { rejected: [], next_after: null });
  });

  test('a bad after or limit is a 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['after=abc', 'after'],
      ['after=-1', 'after'],
      ['after=1.5', 'after'],
      ['after=', 'after'],
      ['after=1e3', 'after'],
      ['after=99999999999999999999', 'after'],
      ['after=1&after=2', 'after'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['limit=', 'limit'],
      ['limit=2.5', 'limit'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/v1/rejected?${query}`);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: string; fields: { field: string; message: string }[] };
      assert.deepEqual(
        body.fields.map((f) => f.field),
        [field],
        query,
      );
      assert.match(body.error, new RegExp(`^invalid query: ${field}: `), query);
    }
  });
});

/** A valid event standing for rejection `id`'s fix: an app's owner, its own subject. */
function validEvent(id: string) {
  return {
    specversion: '1.0',
    id: `paging-fixed-${id}`,
    source: 'paging-test',
    type: 'app.owner_changed',
    time: '2026-10-01T00:00:00Z',
    subject: `app-paging-${id}`,
    sequence: 1,
    data: { app_id: `app-paging-${id}`, account_id: 'acct-paging' },
  };
}
