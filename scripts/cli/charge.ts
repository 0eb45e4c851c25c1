import { chargeCommand as charge, CliUsageError } from '@vault/invoicing/cli';
import { UsageError } from './apps.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

/** `vault charge` (services/invoicing does the work). */
export async function chargeCommand(args: string[]): Promise<number> {
  const settings = cliSettings();
  const db = await openCliDatabase(settings);
  try {
    return await charge(args, { pool: db.pool, settings, log: cliLog, out: (line) => console.log(line) });
  } catch (err) {
    throw err instanceof CliUsageError ? new UsageError(err.message) : err;
  } finally {
    await db.close();
  }
}
