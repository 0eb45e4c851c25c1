// A re-submit's claim and resolve run after its publish: the event is on the bus then and will be
// applied, so DATABASE_STATEMENT_TIMEOUT_MS must not cut them into a 503 "try again" (the rejection
// left pending until someone retried). They run on the main pool (IntakeDeps.afterPublishPool).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { openRequestPool } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { uniqueName } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { getRejected } from '../src/reports/store.ts';
import { ADMIN, meteringDatabases, openBus } from './harness.ts';
import { resubmit } from './resubmit-fixture.ts';
import { createHash } from 'node:crypto';

const LIMIT_MS = 300;
const { db, dropAll } = meteringDatabases();
const closing: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closing.reverse()) await close().catch(() => {});
  await dropAll();
});

describe('metering: a re-submit after its publish is not cut by DATABASE_STATEMENT_TIMEOUT_MS', () => {
  test('intake_claims held past the limit once the fix is published: the re-submit waits, then answers 202 and resolves the rejection', {
    timeout: 60_000,
  }, async () => {
    const d = await db();
    const inner = await openBus('embedded', d);
    const requestPool = openRequestPool(d.url, { statementTimeoutMs: LIMIT_MS, max: 2 });
    const holder = new pg.Client({ connectionString: d.url });
    await holder.connect();
    let released: Promise<void> | undefined;
    // Once the fix is on the bus, another session holds the claims table against writes past the limit.
    const bus = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'publish')
          return async (topic: string, messages: OutgoingMessage[]) => {
            await target.publish(topic, messages);
            await holder.query('begin');
            await holder.query('lock table metering.intake_claims in share mode');
            released = new Promise((resolve) => setTimeout(resolve, 4 * LIMIT_MS)).then(async () => {
              await holder.query('commit');
            });
          };
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Bus;
    const topic = uniqueName('billing');
    await inner.ensureTopic(topic, 1);
    const app = createHttpApp(memoryLogger(), { statementTimeoutMs: LIMIT_MS });
    meteringRoutes(app, { pool: requestPool, afterPublishPool: d.pool, bus, topic, adminToken: ADMIN, groupId: uniqueName('metering') });
    await app.ready();
    closing.push(async () => {
      await app.close();
      await holder.end();
      await requestPool.end();
      await inner.close();
    });

    const fix = {
      specversion: '1.0',
      id: 'late-fix-1',
      source: 'addon-service',
      type: 'addon.provisioned',
      time: '2026-10-10T00:00:00Z',
      subject: 'late-fix',
      sequence: 1,
      data: { app_id: 'app-1', service: 'heroku-redis', plan: 'mini' },
    };
    const raw = JSON.stringify({ ...fix, broken: true });
    const { rows } = await d.pool.query<{ id: string }>(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
       values ($1, convert_to($1, 'UTF8'), $2, '[{"field": "", "code": "store_refused", "message": "test"}]', 'addon-service', $3)
       returning id::text`,
      [raw, createHash('sha256').update(raw).digest('hex'), fix.id],
    );
    const kept = rows[0]!.id;

    const started = Date.now();
    const res = await resubmit({ http: app }, kept, fix);
    await released;
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json(), { resolved_by: 'addon-service/late-fix-1', duplicate: false });
    assert.ok(Date.now() - started >= 4 * LIMIT_MS - 50, 'it waited for the lock');
    assert.equal((await getRejected(d.pool, kept))?.resolved_by, 'addon-service/late-fix-1', 'resolved, not left pending');
  });
});
