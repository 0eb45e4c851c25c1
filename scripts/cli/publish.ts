import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createBus } from '@vault/bus';
import { migrate } from '@vault/db';
import { publishStream } from '@vault/metering/publish';
import { APPS, UsageError } from './apps.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

/**
 * `vault publish [FILE]`: NDJSON events from FILE (or stdin) onto the bus,
 * exactly as `POST /v1/events` puts them. Prints each rejected line with its
 * number and reason, then a summary; exit status 1 when any line was rejected.
 */
export async function publishCommand(args: string[]): Promise<number> {
  if (args.length > 1) throw new UsageError('publish takes at most one FILE (or reads stdin)');
  const file = args[0];
  if (file !== undefined && file !== '-') {
    await access(file).catch(() => {
      throw new UsageError(`cannot read ${file}`);
    });
  }
  const settings = cliSettings();
  const db = await openCliDatabase(settings);
  try {
    // Duplicates are judged against what metering has stored: its tables must exist.
    const metering = APPS.find((a) => a.name === 'metering')!;
    await migrate(db.pool, metering.schema, metering.migrations);
    const bus = await createBus({ kafkaBrokers: settings.KAFKA_BROKERS, clientId: 'vault-publish', pool: db.pool, databaseUrl: db.url });
    try {
      const topic = settings.BILLING_EVENTS_TOPIC;
      const input = file === undefined || file === '-' ? process.stdin : createReadStream(file);
      const started = performance.now();
      let reportAt = 50_000;
      const summary = await publishStream({ bus, pool: db.pool, topic }, input, {
        onProgress: (s) => {
          if (s.lines < reportAt) return;
          reportAt += 50_000;
          cliLog.info('publish.progress', { lines: s.lines, accepted: s.accepted, rejected: s.rejected.length });
        },
      });
      for (const r of summary.rejected) {
        console.error(`line ${r.index + 1}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}`);
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `published ${summary.lines} lines to ${topic} (${bus.kind} bus): ` +
          `${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected.length} rejected ` +
          `in ${seconds.toFixed(1)}s`,
      );
      return summary.rejected.length > 0 ? 1 : 0;
    } finally {
      await bus.close();
    }
  } finally {
    await db.close();
  }
}
