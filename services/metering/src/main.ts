// The metering process: `vault start metering` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { busEventLevel, createBus } from '@vault/bus';
import { resolveAdminToken, runApp, startLoop } from '@vault/runtime';
import { meteringRoutes } from './app.ts';
import { watchBus } from './bus-health.ts';
import { meteringConfig } from './config.ts';
import { startConsumer } from './consumer/consume.ts';
import { SEAL_EVERY_MS, sealEventMonths } from './consumer/event-months.ts';

await runApp({
  name: 'metering',
  schema: 'metering',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  config: meteringConfig,
  // Per-batch statements on growing, not yet analyzed tables were planned as
  // costly enough to JIT-compile: 70–260 ms a batch on servers built with LLVM.
  sessionSettings: { jit: 'off' },
  port: 'METERING_PORT',
  build: async ({ settings, db, requestPool, http, log, stopping }) => {
    // Kafka that does not answer is boot.failed naming KAFKA_BROKERS, within seconds.
    const bus = await createBus({
      kafkaBrokers: settings.KAFKA_BROKERS,
      clientId: 'vault-metering',
      pool: db.pool,
      databaseUrl: db.url,
      log: (event, fields) => log[busEventLevel(event)](event, fields),
      trimEveryMs: settings.BUS_TRIM_EVERY_SECONDS * 1000,
    });
    const topic = settings.BILLING_EVENTS_TOPIC;
    const adminToken = resolveAdminToken(settings, log);
    const groupId = settings.METERING_CONSUMER_GROUP;
    // Requests query through sessions limited by DATABASE_STATEMENT_TIMEOUT_MS; the consumer and sealing, unlimited,
    // and so is the intake's claim once its events are on the bus (they are billed: the answer must count them).
    meteringRoutes(http, { pool: requestPool, afterPublishPool: db.pool, bus, topic, adminToken, groupId, log });
    const consumer = await startConsumer({ bus, pool: db.pool, topic, log, groupId, stopping });
    // Node's flags as started (METERING_NODE_FLAGS when `vault start` ran it).
    log.info('metering.consuming', { topic, group: groupId, bus: bus.kind, node_flags: process.execArgv.join(' ') });
    // Its bus gone past the threshold (no broker answering, the group not joined) is a 503 too: it can neither take nor consume events.
    const busHealth = watchBus({ consumer, kind: bus.kind, log });
    const sealing = startLoop({
      everyMs: SEAL_EVERY_MS,
      tick: async () => {
        const sealed = await sealEventMonths(db.pool);
        if (sealed > 0) log.info('events.months_sealed', { 'count#metering.months_sealed': sealed });
      },
      onError: (err) => log.error('events.seal_failed', err),
    });
    return {
      // GET /health: metering's job is consuming; a consumer that crashed beyond recovery is a 503.
      unavailable: () =>
        consumer.isHealthy() ? busHealth.check() : { reason: 'consumer stopped', detail: consumer.failure() ?? 'stopped' },
      stop: async () => {
        await busHealth.stop();
        await sealing.stop();
        await consumer.stop();
        await bus.close();
      },
    };
  },
});
