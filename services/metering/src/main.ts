// The metering process: `vault start metering` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { createBus } from '@vault/bus';
import { resolveAdminToken, runApp } from '@vault/runtime';
import { meteringRoutes } from './app.ts';
import { startConsumer } from './consume.ts';

await runApp({
  name: 'metering',
  schema: 'metering',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.METERING_PORT,
  build: async ({ settings, db, http, log }) => {
    const bus = await createBus({
      kafkaBrokers: settings.KAFKA_BROKERS,
      clientId: 'vault-metering',
      pool: db.pool,
      databaseUrl: db.url,
      log: (event, fields) => log.info(event, fields),
    });
    const topic = settings.BILLING_EVENTS_TOPIC;
    const adminToken = resolveAdminToken(settings.ADMIN_TOKEN, log);
    const groupId = settings.METERING_CONSUMER_GROUP;
    meteringRoutes(http, { pool: db.pool, bus, topic, adminToken, groupId });
    const consumer = await startConsumer({ bus, pool: db.pool, topic, log, groupId });
    log.info('metering.consuming', { topic, group: groupId, bus: bus.kind });
    return {
      stop: async () => {
        await consumer.stop();
        await bus.close();
      },
    };
  },
});
