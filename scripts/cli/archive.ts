import { join, resolve } from 'node:path';
import { DateTime, Duration } from 'luxon';
import { migrate } from '@vault/db';
import { deleteFinalAggregates, firstOpenMonth, foldAllUsageChanges, loadPriceBook } from '@vault/invoicing/cli';
import { archiveEvents, type HorizonGate } from '@vault/metering/archive';
import { MIGRATION_TARGETS } from './apps.ts';
import { parseCommand, UsageError, usageOf } from './command.ts';
import { cliSettings, openCliDatabase } from './settings.ts';
import { archiveSpec } from './archive-spec.ts';

/** `vault archive [--before INSTANT] [--dir DIR] [--events-only]`. */
export async function archiveCommand(args: string[]): Promise<number> {
  const { values } = parseCommand(archiveSpec, args);
  // resolve('') is the working directory: an empty --dir would archive there unasked.
  if (values.dir !== undefined && values.dir.trim() === '')
    throw new UsageError('archive: --dir must name a directory', usageOf(archiveSpec));
  const settings = cliSettings({ apps: ['metering'], variables: ['INVOICE_GRACE_HOURS', 'PRICE_BOOK', 'GATEWAY_MINIMUM_CHARGE'] });
  const now = DateTime.utc();
  const before = values.before === undefined ? now.minus(Duration.fromISO(settings.EVENT_RETENTION)) : instant(values.before, now);
  const dir = resolve(values.dir ?? settings.ARCHIVE_DIR ?? join(settings.VAULT_HOME, 'archive'));
  const db = await openCliDatabase(settings);
  try {
    for (const schema of values['events-only'] ? ['metering'] : ['metering', 'invoicing']) {
      const target = MIGRATION_TARGETS.find((t) => t.schema === schema)!;
      await migrate(db.pool, target.schema, target.migrations);
    }
    // The months before the cut's month ended before the cut; none is final before invoicing may finalize it,
    // INVOICE_GRACE_HOURS after its end (the horizon never moves back).
    const usageBefore = [before, now.minus({ hours: settings.INVOICE_GRACE_HOURS })].map((t) => t.toFormat('yyyy-MM')).sort()[0]!;
    if (!values['events-only']) {
      // What waits to be folded would keep its months open: fold it first (beside the service's own fold, one at a time).
      const folded = await foldAllUsageChanges(db.pool);
      if (folded > 0) console.log(`folded the usage changes of ${folded} app(s) into invoicing's aggregates`);
    }
    console.log(
      `archiving events before ${before.toISO()}${values['events-only'] ? '' : ` and usage before ${usageBefore} once final`} to ${dir}`,
    );
    const r = await archiveEvents(db.pool, {
      before: before.toJSDate(),
      dir,
      progress: (line) => console.log(line),
      ...(values['events-only']
        ? {}
        : { usage: { before: usageBefore, gate: finalMonthsGate(settings.PRICE_BOOK, settings.GATEWAY_MINIMUM_CHARGE) } }),
    });
    const usage = r.usageMonths.filter((m) => m.file !== null);
    console.log(
      `archived ${r.events} events of ${r.subjects} subjects in ${r.files.length} file(s); settled ${r.settled} usage intervals${r.redone ? `; ${r.redone} unfinished file(s) of a killed run redone` : ''}${r.months.length > 0 ? `; dropped the events tables of ${r.months.join(', ')}` : ''}`,
    );
    // Invoicing's aggregates of the months before the horizon are final too: their tables go.
    const aggregates = r.horizon?.to ? await deleteFinalAggregates(db.pool, r.horizon.to, (line) => console.log(line)) : undefined;
    if (r.horizon) {
      console.log(
        `usage horizon ${r.horizon.to ?? 'none'}; archived ${usage.reduce((n, m) => n + m.intervals, 0)} settled usage intervals of ${usage.length} month(s)${r.usageMonths.length > 0 ? `; dropped the settled usage tables of ${r.usageMonths.map((m) => m.month).join(', ')}` : ''}${aggregates ? `; deleted invoicing's aggregates before ${r.horizon!.to} (${aggregates.days} days, ${aggregates.months} months)` : ''}`,
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}

/** Invoicing's answer to which months are final (late usage is priced, small totals carried: the price book, its minimum). */
function finalMonthsGate(priceBook: string | undefined, minimumCharge: string | undefined): HorizonGate {
  const prices = loadPriceBook(priceBook, minimumCharge);
  return (client, before, from) => firstOpenMonth(client, { before, from, prices });
}

function instant(text: string, now: DateTime): DateTime {
  const t = DateTime.fromISO(text, { setZone: true });
  if (!t.isValid || !/(Z|[+-]\d\d:?\d\d)$/.test(text)) {
    throw new UsageError(
      `archive: --before: expected an ISO-8601 instant with an offset (2025-11-01T00:00:00Z), got ${JSON.stringify(text)}`,
      usageOf(archiveSpec),
    );
  }
  // A cut ahead would archive what is still arriving and move the usage horizon past months not over yet, for good.
  if (t > now) {
    throw new UsageError(
      `archive: --before: ${text} is in the future (now is ${now.toISO()}); give an instant at or before now`,
      usageOf(archiveSpec),
    );
  }
  return t.toUTC();
}
