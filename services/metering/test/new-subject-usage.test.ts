// newSubjectUsage derives a new subject's usage from its batch's events as the
// SQL derivation does, or leaves the subject to the SQL. What it leaves and
// what it writes, row by row; test/derive-equivalence.test.ts holds its rows
// equal to the SQL's on real PostgreSQL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type NewEvent, newSubjectUsage } from '../src/domain/new-subject-usage.ts';

const T = (minute: number) => `2026-11-02T10:${String(minute).padStart(2, '0')}:00Z`;
const ev = (subject: string, type: string, sequence: number, minute: number, data: Record<string, unknown>): { event: NewEvent } => ({
  event: { subject, type, sequence, time: T(minute), data },
});
const all = () => true;

describe('newSubjectUsage: a new subject derived from its batch alone', () => {
  test('a dyno lasts from its start until its stop; the one still running is open', () => {
    const out = newSubjectUsage(
      [
        ev('d1', 'dyno.stopped', 2, 30, { app_id: 'app-a' }),
        ev('d2', 'dyno.started', 1, 5, { app_id: 'app-a', name: 'worker.1', size: 'standard-2x' }),
        ev('d1', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.1', size: 'standard-1x' }),
      ],
      all,
    );
    assert.equal(out.derived, 2);
    assert.deepEqual(out.inSql, []);
    assert.deepEqual(out.usage, {
      subject: ['d1', 'd2'],
      kind: ['dyno', 'dyno'],
      appId: ['app-a', 'app-a'],
      key: ['web.1', 'worker.1'],
      product: ['dyno:standard-1x', 'dyno:standard-2x'],
      from: [T(0), T(5)],
      until: [T(30), null],
    });
  });

  test("an add-on's plans each last until the next change, all named by the service of its provisioning", () => {
    const out = newSubjectUsage(
      [
        ev('ad', 'addon.provisioned', 1, 0, { app_id: 'app-a', service: 'heroku-postgresql', plan: 'essential-0' }),
        ev('ad', 'addon.plan_changed', 2, 10, { app_id: 'app-a', plan: 'standard-0' }),
        ev('ad', 'addon.deprovisioned', 3, 20, { app_id: 'app-a' }),
      ],
      all,
    );
    assert.deepEqual(out.usage.product, ['addon:heroku-postgresql:essential-0', 'addon:heroku-postgresql:standard-0']);
    assert.deepEqual(out.usage.key, ['ad', 'ad']);
    assert.deepEqual(out.usage.from, [T(0), T(10)]);
    assert.deepEqual(out.usage.until, [T(10), T(20)]);
  });

  test("an app's owners each last until the transfer", () => {
    const out = newSubjectUsage(
      [
        ev('app-a', 'app.owner_changed', 2, 40, { app_id: 'app-a', account_id: 'acct-2' }),
        ev('app-a', 'app.owner_changed', 1, 0, { app_id: 'app-a', account_id: 'acct-1' }),
      ],
      all,
    );
    assert.deepEqual(out.owners, { appId: ['app-a', 'app-a'], accountId: ['acct-1', 'acct-2'], from: [T(0), T(40)], until: [T(40), null] });
    assert.deepEqual(out.usage.subject, []);
  });

  test("bounds are the events' own times: an empty span is left for the insert to drop, as the SQL drops it", () => {
    const out = newSubjectUsage(
      [
        ev('d1', 'dyno.started', 1, 7, { app_id: 'app-a', name: 'web.1', size: 'basic' }),
        ev('d1', 'dyno.stopped', 2, 7, { app_id: 'app-a' }),
      ],
      all,
    );
    assert.deepEqual([out.usage.from, out.usage.until], [[T(7)], [T(7)]]);
  });

  test('a subject with a hole, a repeated sequence, or a field that is not a string is left to the SQL, with nothing of it written', () => {
    const out = newSubjectUsage(
      [
        ev('hole', 'addon.plan_changed', 2, 10, { app_id: 'app-a', plan: 'standard-0' }),
        ev('twice', 'addon.provisioned', 1, 0, { app_id: 'app-a', service: 'redis', plan: 'mini' }),
        ev('twice', 'addon.plan_changed', 2, 5, { app_id: 'app-a', plan: 'premium-0' }),
        ev('twice', 'addon.plan_changed', 2, 6, { app_id: 'app-a', plan: 'premium-1' }),
        ev('number', 'dyno.started', 1, 0, { app_id: 'app-a', name: 7, size: 'basic' }),
        ev('ok', 'dyno.started', 1, 0, { app_id: 'app-b', name: 'web.1', size: 'basic' }),
      ],
      all,
    );
    assert.deepEqual(out.inSql, ['hole', 'twice', 'number']);
    assert.equal(out.derived, 1);
    assert.deepEqual(out.usage.subject, ['ok']);
    assert.equal(out.usage.until.length, 1);
  });

  test('a row that would hold a null (an add-on whose first event names no service) is left to the SQL, which refuses it', () => {
    const out = newSubjectUsage(
      [
        ev('mixed', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.1', size: 'basic' }),
        ev('mixed', 'addon.plan_changed', 2, 5, { app_id: 'app-a', plan: 'mini' }),
      ],
      all,
    );
    assert.deepEqual(out.inSql, ['mixed']);
    assert.deepEqual(out.usage.subject, []);
  });

  test('a batch with any subject holding half a surrogate pair is left to the SQL whole (PostgreSQL may hold two such ids as one)', () => {
    const out = newSubjectUsage(
      [
        ev('ok', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.1', size: 'basic' }),
        ev('x\ud800', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.2', size: 'basic' }),
        ev('x\udc00', 'dyno.stopped', 2, 9, { app_id: 'app-a' }),
      ],
      all,
    );
    assert.deepEqual([out.derived, out.inSql, out.usage.subject], [0, ['ok', 'x\ud800', 'x\udc00'], []]);
    // One with a history counts too: PostgreSQL may hold a new one's events under its id.
    const beside = newSubjectUsage(
      [
        ev('ok', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.1', size: 'basic' }),
        ev('y\udc00', 'dyno.stopped', 2, 9, { app_id: 'app-a' }),
      ],
      (s) => s === 'ok',
    );
    assert.deepEqual([beside.derived, beside.inSql], [0, ['ok']]);
  });

  test('subjects with a history are not its to derive', () => {
    const out = newSubjectUsage(
      [
        ev('old', 'dyno.stopped', 2, 30, { app_id: 'app-a' }),
        ev('new', 'dyno.started', 1, 0, { app_id: 'app-a', name: 'web.1', size: 'basic' }),
      ],
      (s) => s !== 'old',
    );
    assert.deepEqual([out.derived, out.inSql, out.usage.subject], [1, [], ['new']]);
  });
});
