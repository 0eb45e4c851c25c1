import { PeriodKey } from '@vault/contracts';

/** A mistake in a `vault` command line; the CLI reports it with the usage and exits 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** `--period YYYY-MM`, required: a usage error names what is wrong. */
export function periodOption(command: string, given: string | undefined): string {
  if (given === undefined) throw new CliUsageError(`${command}: --period is required (a month as YYYY-MM)`);
  const period = PeriodKey.safeParse(given);
  if (!period.success) {
    throw new CliUsageError(`${command}: --period ${period.error.issues[0]?.message ?? 'is invalid'}, got ${JSON.stringify(given)}`);
  }
  return period.data;
}
