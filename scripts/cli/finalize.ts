import { CliUsageError, finalizeCommand as finalize } from '@vault/invoicing/cli';
import { UsageError } from './apps.ts';
import { cliLog, cliSettings, openCliDatabase } from './settings.ts';

/** `vault finalize --period YYYY-MM` (services/invoicing does the work). */
export async function finalizeCommand(args: string[]): Promise<number> {
  const settings = cliSettings();
  const db = await openCliDatabase(settings);
  try {
    return await finalize(args, { pool: db.pool, settings, log: cliLog, out: (line) => console.log(line) });
  } catch (err) {
    throw err instanceof CliUsageError ? new UsageError(err.message) : err;
  } finally {
    await db.close();
  }
}
