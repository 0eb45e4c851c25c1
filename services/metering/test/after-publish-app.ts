// The metering app in this process over HTTP, its consumer running, its statements after the publish on
// a pool the test chose: what the tests of a failure after a durable publish start from.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { eventually, uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { startConsumer } from '../src/consumer/consume.ts';
import { ADMIN, AUTH, type BusKind, openBus } from './harness.ts';

/** A dyno's day, its events distinct by `tag`: every line valid, all new. */
export const dynoDay = (tag: string) =>
  [
    {
      id: `${tag}-1`,
      type: 'dyno.started',
      time: '2026-10-01T00:00:00Z',
      sequence: 1,
      data: { app_id: 'app-1', name: 'web.1', size: 'standard-1x' },
    },
    { id: `${tag}-2`, type: 'dyno.stopped', time: '2026-10-02T00:00:00Z', sequence: 2, data: { app_id: 'app-1' } },
  ]
    .map((e) => JSON.stringify({ specversion: '1.0', source: 'dyno-manager', subject: `dyno-${tag}`, ...e }))
    .join('\n');

export interface Answered {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

/** The 503 of a publish that went through: published, to be applied. */
export function assertPublished(answer: Answered, lines: number) {
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(answer.retryAfter, '5');
  assert.equal(answer.body.published, true, JSON.stringify(answer.body));
  assert.equal(answer.body.lines_published, lines);
  assert.match(String(answer.body.error), /on the bus and will be applied/);
}

/**
 * Metering's routes and consumer on `db` and a `kind` bus of their own, the claims after the publish
 * on `afterPublishPool`; `close` stops the app, its consumer and its bus (not the pool nor the database).
 */
export async function serveAfterPublish(kind: BusKind, db: TestDatabase, afterPublishPool: pg.Pool) {
  const bus: Bus = await openBus(kind, db);
  const topic = uniqueName('billing');
  const groupId = uniqueName('metering');
  const log = memoryLogger();
  const http = createHttpApp(log);
  meteringRoutes(http, { pool: db.pool, afterPublishPool, bus, topic, adminToken: ADMIN, groupId, log });
  const consumer = await startConsumer({ bus, pool: db.pool, topic, log, groupId, sessionTimeoutMs: 6_000 });
  const base = (await http.listen({ port: 0, host: '127.0.0.1' })).replace('0.0.0.0', '127.0.0.1');
  const close = async () => {
    await http.close();
    await consumer.stop();
    await bus.close();
  };
  const answer = async (res: Response): Promise<Answered> => ({
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Record<string, unknown>,
  });
  const post = async (body: string) =>
    answer(
      await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
        body,
        signal: AbortSignal.timeout(30_000),
      }),
    );
  const resubmit = async (id: string) =>
    answer(await fetch(`${base}/v1/rejected/${id}/resubmit`, { method: 'POST', headers: AUTH, signal: AbortSignal.timeout(30_000) }));
  const stats = async () => (await (await fetch(`${base}/v1/stats`, { headers: AUTH })).json()) as Record<string, number>;
  const counted = (applied: number, duplicates: number) =>
    eventually(
      `${applied} applied, ${duplicates} duplicates`,
      async () => {
        const s = await stats();
        return s.events_applied === applied && s.events_duplicate === duplicates && s.consumer_lag === 0;
      },
      60_000,
    );
  return { log, post, resubmit, counted, close };
}
