/** A mistake in a `vault` command line; the CLI reports it with the usage and exits 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}
