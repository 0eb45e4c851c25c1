import { ConfigError } from '@vault/runtime';
import { archiveCommand, archiveSpec } from './archive.ts';
import { cardCommand, cardSpec } from './card.ts';
import { chargeCommand, chargeSpec } from './charge.ts';
import { creditCommand, creditSpec } from './credit.ts';
import { commandList, CommandError, HelpRequest, UsageError, usageOf, type Command } from './command.ts';
import { exportCommand, exportSpec } from './export.ts';
import { finalizeCommand, finalizeSpec } from './finalize.ts';
import { kafkaCommand, kafkaSpec } from './kafka.ts';
import { migrateCommand, migrateSpec } from './migrate.ts';
import { publishCommand, publishSpec } from './publish.ts';
import { simulateCommand, simulateSpec } from './simulate.ts';
import { startCommand, startSpec } from './start.ts';
import { tokenCommand, tokenSpec } from './token.ts';

/** Every `vault` command, in the order `vault help` lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: startSpec, run: startCommand },
  { spec: publishSpec, run: publishCommand },
  { spec: simulateSpec, run: simulateCommand },
  { spec: finalizeSpec, run: finalizeCommand },
  { spec: chargeSpec, run: chargeCommand },
  { spec: cardSpec, run: cardCommand },
  { spec: creditSpec, run: creditCommand },
  { spec: migrateSpec, run: migrateCommand },
  { spec: exportSpec, run: exportCommand },
  { spec: archiveSpec, run: archiveCommand },
  { spec: tokenSpec, run: tokenCommand },
  { spec: kafkaSpec, run: (args) => kafkaCommand(args, process.env) },
];

export const USAGE = commandList(COMMANDS.map((c) => c.spec));

/**
 * The `vault` command; returns the exit status. `vault help COMMAND…` is
 * `vault COMMAND… --help`; every command reads its arguments through
 * `parseCommand` (command.ts), so `--help` and bad options are answered
 * before anything is opened.
 */
export async function main(argv: string[]): Promise<number> {
  let [name, ...args] = argv;
  if (name === 'help' && args.length > 0) [name, ...args] = [...args, '--help'];
  const command = COMMANDS.find((c) => c.spec.name === name);
  try {
    if (name === 'help' || name === '--help' || name === '-h') throw new HelpRequest(USAGE);
    if (name === undefined) throw new UsageError('which command?', USAGE);
    if (!command) throw new UsageError(`unknown ${name.startsWith('-') ? 'option' : 'command'} ${name}`, USAGE);
    return await command.run(args);
  } catch (err) {
    if (err instanceof HelpRequest) {
      console.log(err.usage);
      return 0;
    }
    if (err instanceof UsageError) {
      console.error(`vault: ${err.message}\n${err.usage ?? (command ? usageOf(command.spec) : USAGE)}`);
      return 2;
    }
    if (err instanceof CommandError) {
      console.error(`vault ${name}: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      console.error(`vault: ${err.message}`);
      return 1;
    }
    console.error(`vault: ${name} failed: ${(err as Error | undefined)?.stack ?? String(err)}`);
    return 1;
  }
}
