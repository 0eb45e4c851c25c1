// A re-submit judges the 5-minute future rule a minute early (resubmit.ts,
// RESUBMIT_CLOCK_MARGIN_MS): the consumer judges again by the bus's clock, and
// one behind metering's rejected a just-202'd event as a duplicate of the row
// the 202 then resolved, the event lost with nothing pending.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { uniqueName } from '@vault/testkit';
import { listRejected } from '../src/reports/store.ts';
import { applyRaw, meteringDatabases } from './harness.ts';
import { keepExactly, resubmit, routesOnly } from './resubmit-fixture.ts';

const { db, dropAll } = meteringDatabases();
const closing: (() => Promise<void>)[] = [];
const routes = async () => routesOnly(await db(), closing);

describe('re-submitting a rejection kept for a time once in the future (real PostgreSQL)', () => {
  after(async () => {
    await Promise.all(closing.map((close) => close()));
    await dropAll();
  });

  test('a time_in_future rejection re-submitted as it was is judged a minute early: nothing is published while it is within a minute of the rule, and once it is answered 202 a bus clock 50 s behind applies it', async () => {
    const { app, published, d } = await routes();
    const subject = uniqueName('dyno-clock');
    const started = (ms: number) =>
      JSON.stringify({
        specversion: '1.0',
        id: `${subject}-${ms}`,
        source: 'dyno-manager',
        type: 'dyno.started',
        time: new Date(ms).toISOString(),
        subject,
        sequence: 1,
        data: { app_id: 'app-clock', name: 'web.1', size: 'standard-1x' },
      });
    const reason = { field: 'time', code: 'time_in_future', message: 'then' };
    // 4 min 30 s ahead: within 5 minutes of our clock, not of a clock a minute behind it.
    const soon = await keepExactly(d, started(Date.now() + 270_000), reason);
    const early = await resubmit(app, soon);
    assert.equal(early.statusCode, 422, early.body);
    assert.equal(early.json().reasons[0].code, 'time_in_future');
    assert.match(early.json().error, /judged a minute early/);
    assert.equal(published.length, 0, 'nothing published');
    assert.equal((await listRejected(d.pool, { status: 'pending', limit: 10, after: '0' })).rejected.length, 1, 'still pending');

    // 3 min 30 s ahead: answered 202, and the consumer, its bus clock 50 s behind ours, applies it.
    const later = await keepExactly(d, started(Date.now() + 210_000), reason);
    const res = await resubmit(app, later);
    assert.equal(res.statusCode, 202, res.body);
    const behind = Date.now() - 50_000;
    const consumed = await applyRaw(
      d,
      published.flat().map((m) => m.value.toString()),
      behind,
    );
    assert.deepEqual([consumed.applied, consumed.rejected.length], [1, 0], 'the consumer takes what the 202 published');
    assert.equal(
      (await listRejected(d.pool, { status: 'pending', limit: 10, after: '0' })).rejected.length,
      1,
      'only the early one pending',
    );
  });
});
