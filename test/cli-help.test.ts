// Every `vault` command and subcommand answers --help and -h (and `vault help
// …`) with its usage on stdout, exit 0, acting on nothing; an unknown option is
// a usage error (exit 2) that names it. The environment makes acting fail:
// DATABASE_URL is a closed port, there is no Kafka, and the working directory
// and VAULT_HOME are an empty directory that must stay empty.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { vault, type VaultRun } from '@vault/testkit';
import { COMMANDS } from '../scripts/cli/main.ts';

const UNREACHABLE_DB = 'postgres://nobody@127.0.0.1:1/none';

/** Every command line that names a command: `publish`, `kafka`, `kafka start`, … */
const COMMAND_LINES: string[][] = COMMANDS.flatMap(({ spec }) =>
  'subcommands' in spec ? [[spec.name], ...spec.subcommands.map((s) => s.name.split(' '))] : [[spec.name]],
);
/** The ones that run (a group's subcommands, not the group). */
const RUNNABLE: string[][] = COMMANDS.flatMap(({ spec }) =>
  'subcommands' in spec ? spec.subcommands.map((s) => s.name.split(' ')) : [[spec.name]],
);

/** Runs `fn` over `items`, a few at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

describe('`vault … --help` answers and does nothing else', () => {
  let dir: string;
  let run: (args: string[]) => Promise<VaultRun>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vault-help-'));
    const env = {
      DATABASE_URL: UNREACHABLE_DB,
      KAFKA_BROKERS: undefined,
      VAULT_HOME: join(dir, 'home'),
      VAULT_CACHE_DIR: join(dir, 'cache'),
    };
    run = (args) => vault(args, env, '', { cwd: dir });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the commands are all there', () => {
    const names = COMMAND_LINES.map((c) => c.join(' '));
    for (const name of [
      'start',
      'publish',
      'simulate',
      'finalize',
      'charge',
      'card',
      'card add',
      'migrate',
      'export',
      'token',
      'token create',
      'token list',
      'token revoke',
      'kafka',
      'kafka start',
      'kafka stop',
      'kafka status',
    ]) {
      assert.ok(names.includes(name), `${name} is one of ${names.join(', ')}`);
    }
  });

  test('`vault --help`, `-h`, `help`: every command listed on stdout, exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await run(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^usage: vault <command>/);
      for (const command of RUNNABLE)
        assert.match(r.stdout, new RegExp(`^  ${command.join(' ')}\\b`, 'm'), `${args.join(' ')} lists ${command.join(' ')}`);
    }
  });

  test('`vault` alone: the list on stderr, exit 2', async () => {
    const r = await run([]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /usage: vault <command>/);
    assert.match(r.stderr, /^ {2}publish\b/m);
  });

  test('every command and subcommand: --help, -h, `vault help …`, and --help after other arguments', { timeout: 180_000 }, async () => {
    const lines = [
      ...COMMAND_LINES.flatMap((command) => [
        [...command, '--help'],
        [...command, '-h'],
        ['help', ...command],
      ]),
      // Whatever else is on the line, --help wins: even a bad option or an unknown file.
      ['publish', 'missing.ndjson', '--help'],
      ['migrate', '--frobnicate', '-h'],
      ['kafka', 'start', '--frobnicate', '--help'],
      ['simulate', '--out', 'events.ndjson', '--help'],
    ];
    await eachLimited(lines, 6, async (args) => {
      const command = args.filter((a) => !a.startsWith('-') && a !== 'help' && !a.endsWith('.ndjson')).join(' ');
      const r = await run(args);
      const what = `vault ${args.join(' ')}`;
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.equal(r.stderr, '', what);
      assert.ok(r.stdout.startsWith(`usage: vault ${command}`), `${what}:\n${r.stdout}`);
      assert.match(r.stdout, /-h, --help/, what);
    });
    assert.deepEqual(readdirSync(dir), [], 'no file or directory was written');
  });

  test('the options of a command are in its usage', async () => {
    const cases: [string[], RegExp[]][] = [
      [['finalize'], [/--period YYYY-MM/]],
      [['export'], [/^usage: vault export invoices\|lines\|credits --period YYYY-MM/, /--period YYYY-MM/]],
      [
        ['credit', 'grant'],
        [/--account ID/, /--amount 10\.00/, /--reason TEXT/, /--expires WHEN/, /--id ID/],
      ],
      [['simulate'], [/--seed N/, /--out FILE\|-/, /--no-late/]],
      [['start'], [/--demo/, /--no-demo/]],
      [
        ['token', 'create'],
        [/--account ID/, /--finance/, /--publisher/, /--expires DURATION/],
      ],
      [
        ['token', 'revoke'],
        [/^usage: vault token revoke ID/, /stops working at once/],
      ],
      [['token'], [/token create/, /token list/, /token revoke/]],
      [
        ['card', 'add'],
        [/--account ID/, /--test-card NUMBER/],
      ],
      [['publish'], [/NDJSON/, /JSON\s+array/, /byte order mark/]],
      [['kafka'], [/kafka start/, /kafka stop/, /kafka status/]],
    ];
    await eachLimited(cases, 4, async ([command, patterns]) => {
      const r = await run([...command, '--help']);
      assert.equal(r.status, 0, r.stderr);
      for (const p of patterns) assert.match(r.stdout, p, `vault ${command.join(' ')} --help`);
    });
  });

  test('an unknown option is a usage error: exit 2, named, the usage on stderr, nothing on stdout', { timeout: 180_000 }, async () => {
    const lines = [
      ...RUNNABLE.map((command) => [...command, '--frobnicate']),
      ['publish', '-z'],
      ['token', 'create', '-z'],
      ['kafka', 'status', '-z'],
      ['kafka', '--frobnicate'],
      ['token', '--frobnicate'],
      ['card', '--frobnicate'],
    ];
    await eachLimited(lines, 6, async (args) => {
      const flag = args.at(-1)!;
      const r = await run(args);
      const what = `vault ${args.join(' ')}`;
      assert.equal(r.status, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, '', what);
      assert.match(r.stderr, new RegExp(`unknown option ${flag}\\b`), what);
      assert.match(r.stderr, new RegExp(`^usage: vault ${args[0]}`, 'm'), what);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack`);
    });
    assert.deepEqual(readdirSync(dir), [], 'no file or directory was written');
  });

  test('other usage errors name what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command frobnicate/],
      [['--frobnicate'], /unknown option --frobnicate/],
      [['publish', 'a.ndjson', 'b.ndjson'], /publish: unexpected argument b\.ndjson/],
      [['migrate', 'now'], /migrate: unexpected argument now/],
      [['kafka'], /kafka: what to do\? one of start, stop, status/],
      [['kafka', 'restart'], /kafka: unknown action restart/],
      [['token', '--finance', 'create'], /the command comes first, then --finance/],
      [['finalize', '--period'], /option --period needs a value/],
      // Checked before the database is opened (here it could not be: it would be exit 1).
      [['finalize'], /finalize: --period is required/],
      [['finalize', '--period', '2026-13'], /finalize: --period must be a month as YYYY-MM/],
      [['token', 'create', '--finance=yes'], /option --finance takes no value/],
      // parseArgs alone keeps the last: this would grant 1000.00.
      [['credit', 'grant', '--account', 'a', '--amount', '1.00', '--amount', '1000.00', '--reason', 'r'], /option --amount given twice/],
      [['finalize', '--period', '2026-10', '--period=2026-11'], /finalize: option --period given twice/],
      [['simulate', '--seed', '-3'], /option --seed needs a value \(one that starts with - is written --seed=-…\)/],
      // Help of an action that does not exist is not the group's help.
      [['card', 'nosuch', '--help'], /card: unknown action nosuch; only add/],
      [['help', 'card', 'nosuch'], /card: unknown action nosuch; only add/],
      // Two of one app were two processes on one port, and counted as the demo's four apps.
      [['start', 'metering', 'metering', 'invoicing', 'cc-forms'], /app metering given twice/],
      [['start', 'metering', '--demo'], /start: --demo needs all four apps: give no app names/],
      [['token', 'create', '--account='], /token create: --account must be 1 to 128 characters/],
      // resolve('') is the working directory.
      [['archive', '--dir', ''], /archive: --dir must name a directory/],
    ];
    await eachLimited(cases, 4, async ([args, message]) => {
      const r = await run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /usage: vault/, args.join(' '));
    });
  });

  test('control: without --help the same environment cannot act (so the tests above would see it)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'vault-help-control-'));
    try {
      const r = await vault(['migrate'], { DATABASE_URL: UNREACHABLE_DB, KAFKA_BROKERS: undefined, VAULT_HOME: join(other, 'home') }, '', {
        cwd: other,
      });
      assert.equal(r.status, 1, r.stdout);
      // Named, in one line, without the driver's stack.
      assert.match(r.stderr, /^vault: migrate: DATABASE_URL: cannot reach PostgreSQL at 127\.0\.0\.1:\d+: connection refused$/m);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
