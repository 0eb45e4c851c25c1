import { join, resolve } from 'node:path';
import { DateTime, Duration } from 'luxon';
import { migrate } from '@vault/db';
import { archiveEvents } from '@vault/metering/archive';
import { MIGRATION_TARGETS } from './apps.ts';
import { parseCommand, UsageError, usageOf } from './command.ts';
import { cliSettings, openCliDatabase } from './settings.ts';
import { archiveSpec } from './archive-spec.ts';

/** `vault archive [--before INSTANT] [--dir DIR]`. */
export async function archiveCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(archiveSpec, args);
  const settings = cliSettings();
  const before = values.before === undefined ? DateTime.utc().minus(Duration.fromISO(settings.EVENT_RETENTION)) : instant(values.before);
  const dir = resolve(values.dir ?? settings.ARCHIVE_DIR ?? join(settings.VAULT_HOME, 'archive'));
  const db = await openCliDatabase(settings);
  try {
    const metering = MIGRATION_TARGETS.find((t) => t.schema === 'metering')!;
    await migrate(db.pool, metering.schema, metering.migrations);
    console.log(`archiving events before ${before.toISO()} to ${dir}`);
    const r = await archiveEvents(db.pool, { before: before.toJSDate(), dir, progress: (line) => console.log(line) });
    console.log(
      `archived ${r.events} events of ${r.subjects} subjects in ${r.files.length} file(s); settled ${r.settled} usage intervals${r.redone ? `; ${r.redone} unfinished file(s) of a killed run redone` : ''}${r.months.length > 0 ? `; dropped the events tables of ${r.months.join(', ')}` : ''}`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

function instant(text: string): DateTime {
  const t = DateTime.fromISO(text, { setZone: true });
  if (!t.isValid || !/(Z|[+-]\d\d:?\d\d)$/.test(text)) {
    throw new UsageError(
      `archive: --before: expected an ISO-8601 instant with an offset (2025-11-01T00:00:00Z), got ${JSON.stringify(text)}`,
      usageOf(archiveSpec),
    );
  }
  return t.toUTC();
}
