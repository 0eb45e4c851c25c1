import { ConfigError } from '@vault/runtime';
import { UsageError } from './apps.ts';
import { cardCommand } from './card.ts';
import { chargeCommand } from './charge.ts';
import { exportCommand } from './export.ts';
import { finalizeCommand } from './finalize.ts';
import { kafkaCommand } from './kafka.ts';
import { migrateCommand } from './migrate.ts';
import { publishCommand } from './publish.ts';
import { simulateCommand } from './simulate.ts';
import { startCommand } from './start.ts';
import { tokenCommand } from './token.ts';

const USAGE = `usage: vault <command>
  start [app…]             start the apps (all by default): ${'gateway-sandbox, metering, invoicing, cc-forms'}
  publish [FILE]           put NDJSON events (FILE or stdin) on the bus; exit 1 if any line is rejected
  simulate [--seed N] [--apps N] [--accounts N] [--weeks W] [--now TIME] [--out FILE|-] [--no-late]
                           a simulated platform's billing events (default: from the latest finalizable month to now)
                           on the bus, late ones last, with progress; or NDJSON to FILE; exit 1 if any is rejected
  finalize --period YYYY-MM  finalize that month's due invoices that are not held; exit 1 if it is not due
  charge                   one charging pass: charge finalized invoices that are due to the card on file; exit 1 if any was left for later
  card add --account ID [--test-card NUMBER]
                           put a sandbox test card (4242… by default) on file for the account, as the card form does
  migrate                  apply every app's pending database migrations
  export invoices|lines --period YYYY-MM
                           a month's finalized invoices or their lines as CSV on stdout, ending with a control-total row
  token create --account ID | --finance
                           print a new bearer token for one account's customer (sign-in link on stderr), or for finance
  kafka start|stop|status  a local single-node Kafka broker for development
  help                     this text`;

/** The `vault` command; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'start':
        return await startCommand(args);
      case 'publish':
        return await publishCommand(args);
      case 'simulate':
        return await simulateCommand(args);
      case 'finalize':
        return await finalizeCommand(args);
      case 'charge':
        return await chargeCommand(args);
      case 'card':
        return await cardCommand(args);
      case 'migrate':
        return await migrateCommand();
      case 'export':
        return await exportCommand(args);
      case 'token':
        return await tokenCommand(args);
      case 'kafka':
        return await kafkaCommand(args, process.env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`vault: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`vault: ${err.message}`);
      return 1;
    }
    console.error(`vault: ${command} failed: ${(err as Error | undefined)?.stack ?? String(err)}`);
    return 1;
  }
}
