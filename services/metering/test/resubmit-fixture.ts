// The re-submit tests' routes: metering's HTTP routes alone over a bus that
// records what is published, and pending rejections made to order.
import { createHash } from 'node:crypto';
import type { Bus, OutgoingMessage } from '@vault/bus';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { uniqueName, type TestDatabase } from '@vault/testkit';
import { meteringRoutes } from '../src/app.ts';
import { ADMIN, AUTH, type Metering, openBus } from './harness.ts';

/** POST /v1/rejected/:id/resubmit, as it was (no body) or fixed. */
export const resubmit = (m: { http: Metering['http'] }, id: string, body?: object) =>
  m.http.inject({
    method: 'POST',
    url: `/v1/rejected/${id}/resubmit`,
    headers: body ? { ...AUTH, 'content-type': 'application/json' } : AUTH,
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });

/** The routes alone over a bus that records what is published (and may run something first); no consumer. */
export async function routesOnly(d: TestDatabase, closing: (() => Promise<void>)[]) {
  const inner = await openBus('embedded', d);
  const published: OutgoingMessage[][] = [];
  let first: () => Promise<unknown> = async () => {};
  let then: (messages: OutgoingMessage[]) => Promise<unknown> = async () => {};
  const bus = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'publish')
        return async (topic: string, messages: OutgoingMessage[]) => {
          await first();
          published.push(messages);
          await target.publish(topic, messages);
          await then(messages);
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Bus;
  const topic = uniqueName('billing');
  await inner.ensureTopic(topic, 1);
  const app = createHttpApp(memoryLogger());
  meteringRoutes(app, { pool: d.pool, bus, topic, adminToken: ADMIN, groupId: uniqueName('metering') });
  await app.ready();
  closing.push(async () => {
    await app.close();
    await inner.close();
  });
  /** A pending rejection standing for `e` (its bytes differ; only its key matters here). */
  const keep = async (e: object) => {
    const raw = JSON.stringify({ ...e, broken: true });
    const { rows } = await d.pool.query<{ id: string }>(
      `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
       values ($1, convert_to($1, 'UTF8'), $2, '[{"field": "", "code": "store_refused", "message": "test"}]', 'addon-service', $3)
       returning id::text`,
      [raw, createHash('sha256').update(raw).digest('hex'), (e as { id: string }).id],
    );
    return rows[0]!.id;
  };
  const before = (f: () => Promise<unknown>) => {
    first = f;
  };
  /** Runs `f` once a publish is durable, before its answer (a consumer's step, say). */
  const afterPublish = (f: (messages: OutgoingMessage[]) => Promise<unknown>) => {
    then = f;
  };
  return { app: { http: app }, published, d: d as TestDatabase, keep, before, afterPublish };
}

/** A pending rejection of exactly `raw`, for `reason`. */
export async function keepExactly(d: TestDatabase, raw: string, reason: object): Promise<string> {
  const { source, id } = JSON.parse(raw) as { source: string; id: string };
  const { rows } = await d.pool.query<{ id: string }>(
    `insert into metering.rejected_events (raw, raw_bytes, raw_hash, reasons, source, event_id)
     values ($1, convert_to($1, 'UTF8'), $2, $3, $4, $5) returning id::text`,
    [raw, createHash('sha256').update(raw).digest('hex'), JSON.stringify([reason]), source, id],
  );
  return rows[0]!.id;
}

/** An add-on service's event: its id is the subject and sequence. */
export const addonEvent = (subject: string, sequence: number, type: string, time: string, data: object) => ({
  specversion: '1.0',
  id: `${subject}-${sequence}`,
  source: 'addon-service',
  type,
  time,
  subject,
  sequence,
  data,
});
