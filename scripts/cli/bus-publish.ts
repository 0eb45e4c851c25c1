import { createBus, type Bus } from '@vault/bus';
import { migrate, type Database } from '@vault/db';
import { DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS } from '@vault/metering/publish';
import type { VaultSettings } from './vault-settings.ts';
import { APPS } from './apps.ts';
import { progressLog } from './publish-log.ts';
import { openCliDatabase } from './settings.ts';

/** Where the CLI puts events: what metering's intake (`publishStream`) needs. */
export interface PublishTarget {
  bus: Bus;
  pool: Database['pool'];
  topic: string;
}

/**
 * Runs `use` with the bus of the settings (Kafka, or the embedded bus in the
 * CLI's database) and the billing events topic, then closes both. Metering's
 * tables are migrated first: the intake judges duplicates against them. The
 * topic is created when missing (broker-stamped, as metering makes it), so
 * events can be published to a fresh database before metering first starts.
 * Shared by `vault publish` and `vault simulate`.
 */
export async function withPublishTarget<T>(
  settings: VaultSettings,
  clientId: string,
  use: (target: PublishTarget) => Promise<T>,
): Promise<T> {
  // The embedded server's start line on stderr too: stdout holds the summary alone (`| head -1`).
  const db = await openCliDatabase(settings, progressLog);
  try {
    const metering = APPS.find((a) => a.name === 'metering')!;
    await migrate(db.pool, metering.schema, metering.migrations);
    const bus = await createBus({ kafkaBrokers: settings.KAFKA_BROKERS, clientId, pool: db.pool, databaseUrl: db.url });
    try {
      await bus.ensureTopic(settings.BILLING_EVENTS_TOPIC, DEFAULT_PARTITIONS, EVENTS_TOPIC_OPTIONS);
      return await use({ bus, pool: db.pool, topic: settings.BILLING_EVENTS_TOPIC });
    } finally {
      await bus.close();
    }
  } finally {
    await db.close();
  }
}
