// The issue's fault requirement: with a steady stream of events flowing,
// kill -9 each app in turn, restart the Kafka broker, restart PostgreSQL, make
// the gateway answer 500s and time out; after recovery the invoices equal
// those of a run with no faults, no card is charged twice, and no process
// used unbounded memory.
//
// The test owns its PostgreSQL and Kafka broker (test/faults/infra.ts), so
// restarting them never disturbs the test files running beside it. The
// baseline (the same events, once each, no faults) lives on `npm test`'s
// shared server.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { MeteringStats } from '@vault/contracts';
import { migrate } from '@vault/db';
import { gatewayClient, sandboxKeys, type Gateway } from '@vault/gateway';
import {
  eventually,
  freePort,
  freshDatabase,
  freshDatabaseOn,
  superviseService,
  vault,
  type SupervisedService,
  type TestDatabase,
} from '@vault/testkit';
import { applyMessages } from '../services/metering/src/consumer/apply-messages.ts';
import { readCounters } from '../services/metering/src/reports/store.ts';
import { assertConservation, countBy, heldPerPartition, sourcesOnTopic } from '../services/metering/test/conservation.ts';
import { batches, batchesBefore, faultEvents, type EventSet } from './faults/events.ts';
import { startGatewayProxy, type GatewayProxy } from './faults/gateway-proxy.ts';
import { ownKafka, ownPostgres, type OwnKafka, type OwnPostgres } from './faults/infra.ts';
import { gatewayRecord, invoicesOf, usageOf } from './faults/ledger.ts';
import { mib, sampleMemory, withChildren, type MemorySampler } from './faults/memory.ts';
import { startPublisher, type Publisher } from './faults/publisher.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOME = join(process.env.TEST_HOME ?? join(ROOT, '.vault', 'test'), 'faults');
const METERING_MIGRATIONS = fileURLToPath(new URL('../services/metering/migrations', import.meta.url));
/** Metering's default BILLING_EVENTS_TOPIC, which the apps here use. */
const TOPIC = 'platform.billing-events.v1';
const ADMIN = 'admin-token-faults-0123456789abcdef';
/** No app process may go above this, at any sample. */
const APP_RSS_LIMIT = 400 * 1024 * 1024;
/** The broker's JVM has a 512 MiB heap (packages/kafka-local); PostgreSQL's processes share 128 MiB of buffers. */
const INFRA_RSS_LIMIT: Record<string, number> = { 'kafka broker': 1024 * 1024 * 1024, 'postgres (largest process)': 400 * 1024 * 1024 };
const APPS = ['gateway-sandbox', 'cc-forms', 'metering', 'invoicing'] as const;
type App = (typeof APPS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
/** The first instant of a `YYYY-MM` month, as events-v1 writes times. */
const firstOf = (period: string) => `${period}-01T00:00:00Z`;
const started = Date.now();
const timeline: string[] = [];
const mark = (what: string) => {
  const line = `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${what}`;
  timeline.push(line);
  console.log(`faults ${line}`);
};

describe('faults while events flow: kill -9 of every app, Kafka and PostgreSQL restarted, the gateway failing and timing out', {
  timeout: 420_000,
}, () => {
  let pg: OwnPostgres;
  let kafka: OwnKafka;
  let db: TestDatabase;
  let baseline: TestDatabase;
  let proxy: GatewayProxy;
  let sdk: Gateway;
  let publisher: Publisher | undefined;
  let memory: MemorySampler | undefined;
  const apps = new Map<App, SupervisedService>();
  const app = (name: App) => apps.get(name)!;
  let set: EventSet;
  let bodies: string[];
  /** The months the test finalizes and charges; the last month's events keep flowing meanwhile. */
  let invoiced: string[];
  /** Batches up to the last one holding an event of an invoiced month. */
  let invoicedBatches: number;
  let ports: Record<App, number>;
  let appEnv: Record<string, string>;
  /** When each infrastructure outage began and when everything had recovered from it. */
  const outages: { what: string; from: number; to: number }[] = [];

  before(async () => {
    set = faultEvents({ firstMonth: DateTime.utc().minus({ months: 3 }), months: 3 });
    bodies = batches(set.events, 15);
    invoiced = set.periods.slice(0, 2);
    invoicedBatches = batchesBefore(set.events, 15, DateTime.fromISO(firstOf(set.periods[2]!), { zone: 'utc' }));
    mark(
      `${set.events.length} events for ${set.periods.join(', ')} in ${bodies.length} batches; ${invoiced.join(' and ')} are in the first ${invoicedBatches}`,
    );
    // The baseline on the shared server while our own servers start.
    const baselineDone = runBaseline();
    baselineDone.catch(() => {}); // awaited below; a failure to start the servers first must not leave it unhandled
    [pg, kafka] = await Promise.all([ownPostgres(join(HOME, 'postgres'), mark), ownKafka(join(HOME, 'kafka'), mark)]);
    db = await freshDatabaseOn(pg.adminUrl, 'faults');
    mark('own PostgreSQL and Kafka broker up');

    ports = Object.fromEntries(await Promise.all(APPS.map(async (a) => [a, await freePort()] as const))) as Record<App, number>;
    proxy = await startGatewayProxy(`http://127.0.0.1:${ports['gateway-sandbox']}`);
    appEnv = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.brokers,
      ADMIN_TOKEN: ADMIN,
      HOST: '127.0.0.1',
      METERING_PORT: String(ports.metering),
      INVOICING_PORT: String(ports.invoicing),
      CC_FORMS_PORT: String(ports['cc-forms']),
      GATEWAY_PORT: String(ports['gateway-sandbox']),
      VAULT_HOME: join(HOME, 'vault-home'),
      // The local sandbox, whatever the developer's environment says; invoicing's goes through the proxy.
      GATEWAY_URL: '',
      GATEWAY_SECRET_KEY: '',
      GATEWAY_PUBLISHABLE_KEY: '',
      // Finalizing is the test's to do once every event is in (`vault finalize`
      // below): the schedule inside invoicing would finalize the months early,
      // and the events still flowing would become adjustments. A year, the longest grace: the
      // months are the last three.
      INVOICE_GRACE_HOURS: '8784',
      CHARGE_EVERY_SECONDS: '1',
    };
    const envOf = (a: App) =>
      a === 'invoicing'
        ? {
            ...appEnv,
            // The sandbox's own keys, read from its database (it is the gateway behind the proxy).
            GATEWAY_URL: proxy.url,
            INVOICING_URL: `http://127.0.0.1:${ports.invoicing}`,
          }
        : a === 'gateway-sandbox'
          ? // A window between the gateway committing a charge and answering, for a kill to land in.
            { ...appEnv, GATEWAY_SANDBOX_LATENCY_MS: '300' }
          : appEnv;
    for (const a of APPS) apps.set(a, superviseService(a, envOf(a), { log: mark }));
    await Promise.all(APPS.map((a) => app(a).ready(120_000)));
    mark('the four apps listen');
    memory = sampleMemory(() => [
      ...APPS.map((a) => ({ name: a, pids: [app(a).current()?.child.pid].filter((p): p is number => p !== undefined) })),
      { name: 'kafka broker', pids: [kafka.pid()].filter((p): p is number => p !== undefined) },
      { name: 'postgres (largest process)', pids: withChildren(pg.pid()) },
    ]);

    sdk = gatewayClient({
      url: new URL(`http://127.0.0.1:${ports['gateway-sandbox']}`),
      secretKey: (await sandboxKeys(db.pool)).secretKey,
    });
    await Promise.all(set.accounts.map((account, i) => putCard(account, i % 2 ? '5555555555554444' : '4242424242424242')));
    await baselineDone;
    mark('cards on file; baseline finalized');
  });

  after(async () => {
    memory?.stop();
    await publisher?.abort();
    await Promise.all([...apps.values()].map((s) => s.stop().catch(() => {})));
    // Every incarnation's output, for reading after a failure.
    const logs = join(HOME, 'logs');
    rmSync(logs, { recursive: true, force: true });
    mkdirSync(logs, { recursive: true });
    for (const [name, s] of apps) {
      for (const [i, run] of s.incarnations.entries()) writeFileSync(join(logs, `${name}.${i + 1}.log`), run.lines.join('\n') + '\n');
    }
    writeFileSync(join(logs, 'timeline.txt'), timeline.join('\n') + '\n');
    await proxy?.close().catch(() => {});
    await db?.drop().catch(() => {});
    await pg?.stop().catch(() => {});
    if (
      await kafka?.stop().then(
        () => true,
        () => false,
      )
    )
      rmSync(join(HOME, 'kafka'), { recursive: true, force: true });
    await baseline?.drop().catch(() => {});
  });

  /** The same events, each once, through metering's store in one clean pass, then `vault finalize`: a run with no faults. */
  async function runBaseline(): Promise<void> {
    baseline = await freshDatabase('faults_baseline');
    await migrate(baseline.pool, 'metering', METERING_MIGRATIONS);
    for (let i = 0; i < set.events.length; i += 500) {
      const chunk = set.events.slice(i, i + 500);
      await applyMessages(baseline.pool, {
        topic: 'baseline',
        partition: 0,
        highWatermark: String(set.events.length),
        log: 'baseline-log',
        messages: chunk.map((e, j) => ({
          topic: 'baseline',
          partition: 0,
          offset: String(i + j),
          key: e.subject,
          value: Buffer.from(JSON.stringify(e)),
          timestamp: Date.now(),
        })),
      });
    }
    for (const period of invoiced) {
      const run = await vault(['finalize', '--period', period], { DATABASE_URL: baseline.url, INVOICE_GRACE_HOURS: '72' });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, / 0 held /, run.stdout);
    }
  }

  /** A card on file as cc-forms keeps it after a successful setup (test/charging-harness.ts's way, without a browser). */
  async function putCard(account: string, number: string): Promise<void> {
    const customer = await sdk.customers.create(
      { metadata: { account_id: account } },
      { idempotencyKey: `customer-${account}-${randomUUID()}` },
    );
    await db.pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2)', [account, customer.id]);
    // With the publishable key, as the card iframe sends a number (the sandbox, like Stripe, refuses the secret key's).
    const browser = gatewayClient({
      url: new URL(`http://127.0.0.1:${ports['gateway-sandbox']}`),
      secretKey: (await sandboxKeys(db.pool)).publishableKey,
    });
    const pm = await browser.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await sdk.paymentMethods.attach(pm.id, { customer: customer.id });
    await db.pool.query(
      `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year)
       values ($1, $2, $3, 'seti_put_by_fault_test', $4, $5, 12, 2034)`,
      [account, customer.id, pm.id, pm.card?.brand ?? 'visa', number.slice(-4)],
    );
  }

  async function stats() {
    const res = await fetch(`http://127.0.0.1:${ports.metering}/v1/stats`, {
      headers: { authorization: `Bearer ${ADMIN}` },
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    if (!res?.ok) return undefined;
    return MeteringStats.parse(await res.json());
  }

  async function healthy(a: App): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${ports[a]}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    return res?.status === 200;
  }

  /** Every app answers /health, the publisher's released batches are accepted, and metering applies events again. */
  async function recovered(what: string, since: number, appliedBefore: number): Promise<void> {
    await Promise.all(APPS.map((a) => eventually(`${a} healthy after ${what}`, () => healthy(a), 120_000)));
    await publisher!.caughtUp(120_000);
    await eventually(
      `metering applying events again after ${what}`,
      async () => ((await stats())?.events_applied ?? -1) > appliedBefore,
      120_000,
    );
    mark(`recovered from ${what}: ${((Date.now() - since) / 1000).toFixed(1)} s after it began`);
  }

  /** Each app's error lines, counted by event. */
  function errorsOf(a: App): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const run of app(a).incarnations) {
      for (const line of run.lines) {
        if (!line.includes('at=error')) continue;
        const event = /\bevent=(\S+)/.exec(line)?.[1] ?? line.slice(0, 60);
        counts[event] = (counts[event] ?? 0) + 1;
      }
    }
    return counts;
  }

  test('with events flowing, every app killed with SIGKILL, then Kafka and PostgreSQL restarted: all recover, and metering applies every event of the months to be invoiced exactly once', {
    timeout: 300_000,
  }, async (t) => {
    publisher = startPublisher({
      url: `http://127.0.0.1:${ports.metering}`,
      token: ADMIN,
      batches: bodies,
      paceMs: 40,
      resendEvery: 4,
      timeoutMs: 8_000,
      log: mark,
    });
    const chunks = 7;
    const size = Math.ceil(invoicedBatches / chunks);
    let releasedChunks = 0;
    const releaseNext = () => publisher!.release(Math.min(++releasedChunks * size, invoicedBatches));
    releaseNext();
    await publisher.caughtUp(60_000);
    await eventually('the first events applied', async () => ((await stats())?.events_applied ?? 0) > 0, 60_000);
    mark('events flowing');

    const outage = async (what: string, stop: () => Promise<void>, start: () => Promise<void>) => {
      const from = Date.now();
      await stop();
      mark(`${what} stopped; down for 5 s while the publisher keeps trying`);
      await sleep(5_000);
      await start();
      mark(`${what} started again`);
      return from;
    };
    // biome-ignore lint/suspicious/noConfusingVoidType: a fault may return a count or nothing
    const faults: [string, () => Promise<number | void>][] = [
      ['kill -9 metering', async () => void (await app('metering').crash())],
      ['kill -9 invoicing', async () => void (await app('invoicing').crash())],
      ['kill -9 cc-forms', async () => void (await app('cc-forms').crash())],
      ['kill -9 gateway-sandbox', async () => void (await app('gateway-sandbox').crash())],
      [
        'a Kafka broker restart',
        () =>
          outage(
            'Kafka broker',
            () => kafka.stop(),
            () => kafka.start(),
          ),
      ],
      [
        'a PostgreSQL restart',
        () =>
          outage(
            'PostgreSQL',
            () => pg.stop(),
            () => pg.start(),
          ),
      ],
    ];
    for (const [what, fault] of faults) {
      const before = (await stats())?.events_applied ?? 0;
      releaseNext();
      await sleep(400); // the new chunk is in flight when the fault hits
      mark(`fault: ${what}`);
      const since = Date.now();
      const from = await fault();
      await recovered(what, since, before);
      if (from) outages.push({ what, from, to: Date.now() });
    }
    publisher.release(invoicedBatches);
    await publisher.caughtUp(60_000);
    // Every event of those batches, each once (re-sends and retries count as duplicates).
    const released = new Set(bodies.slice(0, invoicedBatches).flatMap((b) => b.split('\n').filter(Boolean)));
    await eventually(
      'metering caught up with the months to be invoiced',
      async () => {
        const s = await stats();
        return s !== undefined && s.consumer_lag === 0 && s.events_applied >= released.size;
      },
      120_000,
    );
    const counters = await readCounters(db.pool);
    mark(`metering caught up with ${invoicedBatches} batches: ${JSON.stringify(counters)}`);
    assert.equal(counters.events_applied, released.size, 'each event applied once');
    assert.equal(counters.events_rejected, 0);
    const gaps = await db.pool.query('select subject from metering.unreliable_apps');
    assert.deepEqual(gaps.rows, [], 'no sequence hole: every subject has all its events sent so far');
    t.diagnostic(`metering counters ${JSON.stringify(counters)}; publisher so far ${JSON.stringify(publisher.report())}`);
  });

  test('the months finalized, then charged while the gateway answers 500s, then holds its answers past the SDK timeout, and invoicing and the gateway are killed mid-charge, with events still flowing: every invoice is paid', {
    timeout: 240_000,
  }, async (t) => {
    // The next month's events flow on (and re-sends of the finalized months'), released in four steps.
    const rest = bodies.length - invoicedBatches;
    let step = 0;
    const releaseNext = () => publisher!.release(invoicedBatches + Math.ceil((++step * rest) / 4));
    proxy.setMode('fail');
    releaseNext();
    mark('gateway proxy: 500s');
    for (const period of invoiced) {
      const run = await vault(['finalize', '--period', period], { DATABASE_URL: db.url, INVOICE_GRACE_HOURS: '72' });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /finalized [1-9]\d* invoice\(s\) .* 0 held /, run.stdout);
      mark(`vault finalize --period ${period}: ${lastLine(run.stdout)}`);
    }
    const chargeEnv = {
      DATABASE_URL: db.url,
      GATEWAY_URL: proxy.url,
    };
    const failing = await vault(['charge'], chargeEnv);
    mark(`vault charge while the gateway fails: exit ${failing.status}, ${lastLine(failing.stdout)}`);
    assert.equal(failing.status, 1, failing.stdout + failing.stderr);
    assert.match(failing.stdout, /[1-9]\d* left for a later pass after an error/);
    await eventually(
      '500s both before and after the gateway acted',
      () => proxy.stats.failedUnsent >= 4 && proxy.stats.failedAfterEffect >= 4,
      60_000,
    );
    const paidNow = await db.pool.query<{ n: number }>(`select count(*)::int as n from invoicing.invoices where status = 'paid'`);
    assert.equal(paidNow.rows[0]!.n, 0, 'nothing is paid while every answer is a 500');

    proxy.setMode('hold');
    releaseNext();
    mark('gateway proxy: holding every answer');
    await eventually('a charge request timed out by the SDK (30 s)', () => proxy.stats.abandoned.some((ms) => ms >= 25_000), 90_000);
    mark(
      `a client gave up on a held answer after ${(Math.max(...proxy.stats.abandoned) / 1000).toFixed(1)} s; ${proxy.stats.held} answers held so far`,
    );
    // The SDK sends the same request again: kill invoicing once the gateway has answered it and the answer is held.
    const heldAtTimeout = proxy.stats.held;
    await eventually('a retried request held', () => proxy.stats.held > heldAtTimeout, 20_000);
    const held = proxy.stats.held - proxy.stats.abandoned.length;
    const killed = app('invoicing').current()!;
    const invoicingBack = app('invoicing').crash();
    await eventually('invoicing gone', () => killed.child.exitCode !== null || killed.child.signalCode !== null);
    // Then kill -9 the gateway itself while it works on a confirm, between its commit and its answer.
    let gatewayBack: Promise<unknown> | undefined;
    proxy.onceForwarded(
      (method, path) => method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/confirm/.test(path),
      () =>
        setTimeout(() => {
          mark('fault: kill -9 gateway-sandbox while it works on a confirm');
          gatewayBack = app('gateway-sandbox').crash();
        }, 150),
    );
    proxy.setMode('pass');
    releaseNext();
    mark(`fault: kill -9 invoicing mid-charge (${held} answers of requests the gateway acted on lost with it); gateway proxy: passing`);
    await invoicingBack;
    await eventually('the gateway killed mid-confirm', () => gatewayBack !== undefined, 60_000);
    await gatewayBack;
    releaseNext();

    const charged = await db.pool.query<{ id: string }>(`select id from invoicing.invoices where total >= 0.50`);
    assert.ok(charged.rows.length >= set.accounts.length, 'every account has an invoice to charge');
    await eventually(
      'every invoice paid',
      async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from invoicing.invoices where total >= 0.50 and status <> 'paid'`,
        );
        return rows[0]!.n === 0;
      },
      120_000,
    );
    mark(`${charged.rows.length} invoices paid`);
    const last = await vault(['charge'], chargeEnv);
    assert.equal(last.status, 0, last.stdout + last.stderr);
    assert.match(last.stdout, /charged 0 invoice\(s\)/);
    // The gateway's webhooks reach invoicing too, once each, despite both being killed.
    await eventually(
      'every payment_intent.succeeded delivered',
      async () => {
        const { rows } = await db.pool.query<{ undelivered: number; received: number }>(
          `select (select count(*)::int from gateway_sandbox.deliveries where delivered_at is null) as undelivered,
                (select count(*)::int from invoicing.gateway_events where type = 'payment_intent.succeeded') as received`,
        );
        return rows[0]!.undelivered === 0 && rows[0]!.received === charged.rows.length;
      },
      90_000,
    );
    const endpoints = await db.pool.query<{ n: number }>('select count(*)::int as n from gateway_sandbox.webhook_endpoints');
    assert.equal(endpoints.rows[0]!.n, 1, 'invoicing registered one webhook endpoint, however often it was killed');
    mark('every payment_intent.succeeded delivered to invoicing');
    t.diagnostic(`gateway proxy ${JSON.stringify(proxy.stats)}`);
  });

  test('after recovery, metering applied every event exactly once: the usage and ownership of the run with no faults, every re-send a duplicate', {
    timeout: 180_000,
  }, async (t) => {
    await publisher!.finish();
    const sent = publisher!.report();
    mark(`publisher done: ${JSON.stringify(sent)}`);
    await eventually(
      'metering caught up with every event',
      async () => {
        const s = await stats();
        return s !== undefined && s.consumer_lag === 0 && s.events_applied >= set.events.length;
      },
      120_000,
    );
    mark('metering caught up with every event');
    const counters = await readCounters(db.pool);
    t.diagnostic(`metering counters ${JSON.stringify(counters)}; publisher ${JSON.stringify(sent)}`);
    assert.equal(counters.events_applied, set.events.length, 'each event applied once');
    assert.equal(counters.events_rejected, 0);
    assert.ok(
      counters.events_duplicate >= sent.resentLines,
      `every re-sent line counted as a duplicate (${counters.events_duplicate} ≥ ${sent.resentLines})`,
    );
    assert.deepEqual(await readCounters(baseline.pool), { events_applied: set.events.length, events_duplicate: 0, events_rejected: 0 });
    const [got, want] = await Promise.all([usageOf(db.pool), usageOf(baseline.pool)]);
    assert.equal(got.usage.length, want.usage.length);
    assert.deepEqual(got, want, 'usage and ownership equal the run with no faults');
    assert.deepEqual(got.unreliable, []);

    // Conservation: per partition, read = applied + duplicate + rejected = the messages it holds; per
    // source, the same sum = the messages on the topic for it (re-sends and retried posts included),
    // each of its events applied once.
    const brokers = kafka.brokers.split(',');
    const [held, onTopic] = await Promise.all([heldPerPartition(brokers, TOPIC), sourcesOnTopic(brokers, TOPIC)]);
    const conserved = await assertConservation(db.pool, TOPIC, { held, sources: onTopic });
    assert.deepEqual(
      new Map(conserved.sources.map((s) => [s.source, s.applied])),
      countBy(set.events, (e) => e.source),
      'per source, each of its events applied once',
    );
    t.diagnostic(`metering per partition ${JSON.stringify(conserved.partitions)}; per source ${JSON.stringify(conserved.sources)}`);
  });

  test('the invoices equal those of the run with no faults: per account and month, the total and every line', async () => {
    const [got, want] = await Promise.all([invoicesOf(db.pool), invoicesOf(baseline.pool)]);
    assert.deepEqual(Object.keys(got), Object.keys(want));
    assert.equal(Object.keys(want).length, set.accounts.length * invoiced.length);
    assert.deepEqual(got, want);
  });

  test('no card is charged twice: one PaymentIntent and one succeeded charge per invoice, for its total, and nothing else at the gateway', async () => {
    const invoices = await db.pool.query<{ id: string; total: string; status: string }>(
      'select id, total::text, status from invoicing.invoices',
    );
    const record = await gatewayRecord(db.pool);
    for (const inv of invoices.rows) {
      const r = record.get(inv.id);
      assert.equal(inv.status, 'paid', inv.id);
      assert.deepEqual(
        r && { intents: r.intents, succeeded: r.succeeded, failed: r.failed, charged: r.charged },
        { intents: 1, succeeded: 1, failed: 0, charged: Math.round(Number(inv.total) * 100) },
        inv.id,
      );
    }
    assert.equal(record.size, invoices.rows.length, 'no PaymentIntent for anything but these invoices');
  });

  test('no process used unbounded memory: every sample of every app stays under 400 MiB, the broker under 1 GiB, each PostgreSQL process under 400 MiB', (t) => {
    const peaks = memory!.stop();
    t.diagnostic(
      `peak RSS: ${peaks.map((p) => `${p.name} ${mib(p.peakBytes)} (${p.processes} process(es), ${p.samples} samples)`).join('; ')}`,
    );
    const exits = APPS.flatMap((a) =>
      app(a).unexpected.map((e) => `${a} ${e.during} ${e.how} at +${((e.at - started) / 1000).toFixed(1)} s`),
    );
    t.diagnostic(`exits the test did not cause: ${exits.length ? exits.join('; ') : 'none'}`);
    t.diagnostic(
      `boot times, s (each incarnation): ${APPS.map(
        (a) =>
          `${a} ${app(a)
            .bootMs.map((ms) => (ms / 1000).toFixed(1))
            .join(', ')}`,
      ).join('; ')}`,
    );
    t.diagnostic(`error lines logged, by app and event: ${JSON.stringify(Object.fromEntries(APPS.map((a) => [a, errorsOf(a)])))}`);
    t.diagnostic(`timeline:\n${timeline.join('\n')}`);
    for (const a of APPS) {
      const peak = peaks.find((p) => p.name === a)!;
      assert.ok(peak.samples > 10, `${a} was sampled`);
      assert.ok(peak.peakBytes < APP_RSS_LIMIT, `${a} peaked at ${mib(peak.peakBytes)}`);
    }
    for (const [name, limit] of Object.entries(INFRA_RSS_LIMIT)) {
      const peak = peaks.find((p) => p.name === name)!;
      assert.ok(peak.samples > 10 && peak.peakBytes < limit, `${name} peaked at ${mib(peak.peakBytes)}`);
    }
    // An app may exit on its own during an outage (the supervisor restarts it, as
    // Heroku's dyno manager would), never outside one.
    for (const a of APPS) {
      for (const e of app(a).unexpected) {
        assert.ok(
          outages.some((o) => e.at >= o.from && e.at <= o.to),
          `${a} exited outside an outage: ${e.how}\n${e.tail.join('\n')}`,
        );
      }
    }
  });
});
