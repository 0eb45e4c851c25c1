import { archiveSpec } from './archive-spec.ts';
import { cardSpec } from './card-spec.ts';
import { chargeSpec } from './charge-spec.ts';
import {
  commandList,
  CommandError,
  HelpRequest,
  isGroup,
  parseCommand,
  pickSubcommand,
  UsageError,
  usageOf,
  type AnySpec,
  type Command,
} from './command.ts';
import { creditSpec } from './credit-spec.ts';
import { exportSpec } from './export-spec.ts';
import { finalizeSpec } from './finalize-spec.ts';
import { kafkaSpec } from './kafka-spec.ts';
import { migrateSpec } from './migrate-spec.ts';
import { publishSpec } from './publish-spec.ts';
import { refundStraySpec } from './refund-stray-spec.ts';
import { simulateSpec } from './simulate-spec.ts';
import { startSpec } from './start-spec.ts';
import { endingEarly } from './early-exit.ts';
import { exitWhenStdoutFails } from './stdout.ts';
import { tokenSpec } from './token-spec.ts';

// Only the specs are imported here: a command's implementation (and with it
// pg, kafkajs, fastify, the apps' code) is loaded when that command runs, so
// `vault help` and `vault … --help` answer at once.

/** Every `vault` command, in the order `vault help` lists them. */
export const COMMANDS: readonly Command[] = [
  { spec: startSpec, run: async (args) => (await import('./start.ts')).startCommand(args) },
  { spec: publishSpec, run: async (args) => (await import('./publish.ts')).publishCommand(args) },
  { spec: simulateSpec, run: async (args) => (await import('./simulate.ts')).simulateCommand(args) },
  { spec: finalizeSpec, run: async (args) => (await import('./finalize.ts')).finalizeCommand(args) },
  { spec: chargeSpec, run: async (args) => (await import('./charge.ts')).chargeCommand(args) },
  { spec: refundStraySpec, run: async (args) => (await import('./refund-stray.ts')).refundStrayCommand(args) },
  { spec: cardSpec, run: async (args) => (await import('./card.ts')).cardCommand(args) },
  { spec: creditSpec, run: async (args) => (await import('./credit.ts')).creditCommand(args) },
  { spec: migrateSpec, run: async (args) => (await import('./migrate.ts')).migrateCommand(args) },
  { spec: exportSpec, run: async (args) => (await import('./export.ts')).exportCommand(args) },
  { spec: archiveSpec, run: async (args) => (await import('./archive.ts')).archiveCommand(args) },
  { spec: tokenSpec, run: async (args) => (await import('./token.ts')).tokenCommand(args) },
  { spec: kafkaSpec, run: async (args) => (await import('./kafka.ts')).kafkaCommand(args, process.env) },
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
  // `vault help | true`, `vault token list | head -1`: one line and exit 1, not a stack.
  const sub = command && isGroup(command.spec) && args[0] && !args[0].startsWith('-') ? ` ${args[0]}` : '';
  exitWhenStdoutFails(`${name ?? 'help'}${sub}`);
  // Stderr gone too (`vault … 2>&1 | head -1`): nobody is left to tell, and a failed write must not end
  // the command before it has stopped the embedded PostgreSQL it started (it ran on, orphaned).
  process.stderr.on('error', () => {});
  try {
    return await runCommand(name, args, command);
  } finally {
    // Ending early (stdout's reader gone): its databases are being let go of, then it exits 1; this
    // command's own end (a query that failed as its session was ended) says nothing more.
    await endingEarly();
  }
}

async function runCommand(name: string | undefined, args: string[], command: Command | undefined): Promise<number> {
  try {
    if (name === 'help' || name === '--help' || name === '-h') throw new HelpRequest(USAGE);
    if (name === undefined) throw new UsageError('which command?', USAGE);
    if (!command) throw new UsageError(`unknown ${name.startsWith('-') ? 'option' : 'command'} ${name}`, USAGE);
    checkArgs(command.spec, args);
    return await command.run(args);
  } catch (err) {
    // Its session ended under it by the early end: that end's one line is the command's.
    if (endingEarly()) return 1;
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
    // Loaded only now: @vault/runtime loads fastify and pg (a command that threw its ConfigError has, already).
    const runtime = await import('@vault/runtime').catch(() => undefined);
    if (runtime && err instanceof runtime.ConfigError) {
      console.error(`vault: ${err.message}`);
      return 1;
    }
    // A database, broker or file a variable points at (a BootError, the bus's, the price book's): named.
    const message = err instanceof Error ? err.message : String(err);
    const variable = (err as { variable?: unknown } | null)?.variable;
    if (typeof variable === 'string') {
      console.error(`vault: ${name}: ${message.startsWith(`${variable}:`) ? message : `${variable}: ${message}`}`);
      return 1;
    }
    // Anything else: what failed, in one line; never a stack.
    console.error(`vault: ${name} failed: ${message}`);
    return 1;
  }
}

/**
 * What every command's implementation does first (parseCommand, and
 * pickSubcommand for a group), done from its spec alone: `--help` and
 * mistakes in the arguments are answered, the same way, before the
 * implementation is loaded. The implementation checks them again, harmlessly.
 */
function checkArgs(spec: AnySpec, args: readonly string[]): void {
  if (!isGroup(spec)) {
    parseCommand(spec, args);
    return;
  }
  const sub = pickSubcommand(spec, args);
  parseCommand(sub.spec, sub.args);
}
