// How a `vault` command declares its usage and options, and the one way every
// command reads its arguments: `--help`/`-h` anywhere (before `--`) prints the
// usage and does nothing else; an unknown option, a missing option value or an
// extra argument is a usage error (exit 2, the usage on stderr) naming it.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's name in the usage (string options only), e.g. YYYY-MM. */
  value?: string;
  /** One line: what it does. */
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** A command that runs (`vault publish`, `vault token create`). */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  /** As typed after `vault`, e.g. `publish` or `token create`. */
  name: string;
  /** What follows the name in the usage line, e.g. `[FILE]` or `--period YYYY-MM`. */
  synopsis?: string;
  /** One line, for the list of commands. */
  summary: string;
  /** Further lines of the usage text (what it reads, writes, its exit status). */
  details?: string;
  options?: O;
  /** How many positional arguments it takes; none by default, Infinity for any number. */
  positionals?: number;
}

/** `spec` as it is, with its options' types kept for `parseCommand`'s values. */
export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** A command made of subcommands (`vault kafka start|stop|status`). */
export interface GroupSpec {
  name: string;
  summary: string;
  details?: string;
  subcommands: CommandSpec[];
}

export type AnySpec = CommandSpec | GroupSpec;

/** `--help` or `-h` was given: the usage goes to stdout, exit status 0, nothing else happens. */
export class HelpRequest extends Error {
  constructor(readonly usage: string) {
    super('help requested');
  }
}

/** A mistake in the command line: reported without a stack, with the command's usage, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** The command could not do its work, for a reason said in one line (no stack, no usage). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const HELP_OPTION = '  -h, --help';

/** True when `--help` or `-h` comes before any `--`. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

export function isGroup(spec: AnySpec): spec is GroupSpec {
  return 'subcommands' in spec;
}

/** `start [app…] [--demo | --no-demo]`: the command line after `vault`. */
function invocation(spec: AnySpec): string {
  if (isGroup(spec)) return `${spec.name} <${spec.subcommands.map(subName).join('|')}>`;
  return spec.synopsis ? `${spec.name} ${spec.synopsis}` : spec.name;
}

const subName = (spec: CommandSpec) => spec.name.slice(spec.name.lastIndexOf(' ') + 1);

/** Two columns, the second wrapping onto its own line when the first is long. */
function columns(rows: [string, string][], indent = '  ', width = 26): string[] {
  return rows.map(([left, right]) =>
    left.length <= width - 2 ? `${indent}${left.padEnd(width)}${right}` : `${indent}${left}\n${indent}${' '.repeat(width)}${right}`,
  );
}

/** The full usage text of a command or group, as `vault … --help` prints it. */
export function usageOf(spec: AnySpec): string {
  const lines = [`usage: vault ${invocation(spec)}`, `  ${spec.summary}`];
  if (spec.details) lines.push(...spec.details.split('\n').map((l) => (l ? `  ${l}` : '')));
  if (isGroup(spec)) {
    lines.push('', 'commands:', ...columns(spec.subcommands.map((s) => [invocation(s), s.summary])));
    lines.push('', 'options:', `${HELP_OPTION.padEnd(28)}this text; \`vault ${spec.name} <command> --help\` for a command's usage`);
    return lines.join('\n');
  }
  const options = Object.entries(spec.options ?? {}).map(([name, o]): [string, string] => [
    `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`,
    o.help,
  ]);
  lines.push('', 'options:', ...columns(options, '  '), `${HELP_OPTION.padEnd(28)}this text`);
  return lines.join('\n');
}

/** `vault help`: every command on a line (or two). */
export function commandList(specs: readonly AnySpec[]): string {
  // A group's subcommands each on their own line: what they do is what matters here.
  const rows = specs.flatMap((s) => (isGroup(s) ? s.subcommands : [s])).map((s): [string, string] => [invocation(s), s.summary]);
  return [
    'usage: vault <command> [options]',
    '',
    'commands:',
    ...columns(rows),
    `  ${'help [command]'.padEnd(26)}this text, or a command's usage (as \`vault <command> --help\`)`,
    '',
    'Every command answers --help (or -h) with its usage and options, and does nothing else.',
  ].join('\n');
}

type Values<O extends OptionSpecs> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

export interface ParsedArgs<O extends OptionSpecs> {
  values: Values<O>;
  positionals: string[];
}

/**
 * The command's arguments by its declaration. Throws HelpRequest for
 * `--help`/`-h`, and UsageError (with the command's usage) for an unknown
 * option, an option without its value, or more positionals than it takes.
 */
export function parseCommand<O extends OptionSpecs>(spec: CommandSpec<O>, args: readonly string[]): ParsedArgs<O> {
  const usage = usageOf(spec);
  if (wantsHelp(args)) throw new HelpRequest(usage);
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, o] of Object.entries(spec.options ?? {})) options[name] = { type: o.type };
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new UsageError(`${spec.name}: ${describeParseError(err as Error & { code?: string })}`, usage);
  }
  // parseArgs keeps the last of a repeated option: `--amount 1.00 --amount 1000.00` would grant 1000.00.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`${spec.name}: option --${token.name} given twice`, usage);
    seen.add(token.name);
  }
  const max = spec.positionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`${spec.name}: unexpected argument ${parsed.positionals[max]}`, usage);
  }
  return { values: parsed.values as Values<O>, positionals: parsed.positionals };
}

/** node:util's parse errors, shortened to what is wrong and which option. */
function describeParseError(err: Error & { code?: string }): string {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1];
  if (option && err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  // `--seed -3`: a value that starts with a dash reads as an option; node's hint says how to give it.
  if (option && /ambiguous/.test(err.message)) return `option ${option} needs a value (one that starts with - is written ${option}=-…)`;
  if (option && /argument missing/.test(err.message)) return `option ${option} needs a value`;
  if (option && /does not take an argument/.test(err.message)) return `option ${option} takes no value`;
  return err.message.split('\n')[0]!;
}

/**
 * A group's subcommand and the arguments after it. `--help` (or `help`)
 * without a known subcommand is the group's usage; anything else that is not
 * a subcommand is a usage error naming it.
 */
export function pickSubcommand(group: GroupSpec, args: readonly string[]): { spec: CommandSpec; args: string[] } {
  const [first, ...rest] = args;
  const sub = group.subcommands.find((s) => subName(s) === first);
  if (sub) return { spec: sub, args: rest };
  const usage = usageOf(group);
  const names = group.subcommands.map(subName);
  const choices = names.length === 1 ? `only ${names[0]}` : `one of ${names.join(', ')}`;
  // An action that does not exist is an error even when help is asked of it.
  const unknown = (action: string) => new UsageError(`${group.name}: unknown action ${action}; ${choices}`, usage);
  if (first === 'help') {
    if (rest[0] === undefined || rest[0].startsWith('-')) throw new HelpRequest(usage);
    const named = group.subcommands.find((s) => subName(s) === rest[0]);
    if (!named) throw unknown(rest[0]);
    throw new HelpRequest(usageOf(named));
  }
  if (first !== undefined && !first.startsWith('-')) throw unknown(first);
  if (wantsHelp(args)) throw new HelpRequest(usage);
  if (first === undefined) throw new UsageError(`${group.name}: what to do? ${choices}`, usage);
  if (first.startsWith('-') && first !== '-') {
    const flag = first.split('=')[0]!;
    const known = group.subcommands.some((s) => Object.keys(s.options ?? {}).some((name) => `--${name}` === flag));
    throw new UsageError(
      known ? `${group.name}: the command comes first, then ${flag}: ${choices}` : `${group.name}: unknown option ${flag}`,
      usage,
    );
  }
  throw unknown(first);
}

/** One of `vault`'s commands: its declaration (for the usage texts) and what it does. */
export interface Command {
  spec: AnySpec;
  run(args: string[]): Promise<number>;
}
