// `vault simulate`: its usage and options, apart from what it does (simulate.ts), so that
// `vault help` and `--help` load this alone.
import { defineCommand } from './command.ts';

export const simulateSpec = defineCommand({
  name: 'simulate',
  synopsis: '[--seed N] [--apps N] [--accounts N] [--weeks W] [--now TIME] [--out FILE|-] [--no-late]',
  summary: "a simulated platform's billing events on the bus, or as NDJSON to FILE; exit 1 if any is rejected",
  details:
    'By default from the latest finalizable month to now, put on the bus as `vault publish`\n' +
    'does, the late events last, with progress: a bar on stderr when it is a terminal, else a\n' +
    'log line (event=simulate.progress) every 10%.',
  options: {
    seed: {
      type: 'string',
      value: 'N',
      help: 'the random seed (default 1): with --apps and --accounts it names the platform; every window of it has the same apps, and runs whose windows overlap or meet add only the new events',
    },
    apps: { type: 'string', value: 'N', help: 'how many apps (default 36, 2 or more)' },
    accounts: { type: 'string', value: 'N', help: 'how many accounts (default 8, 2 or more)' },
    weeks: { type: 'string', value: 'W', help: 'the last W weeks up to --now instead of the demo window' },
    now: { type: 'string', value: 'TIME', help: 'the end of the window, RFC 3339 with an offset (default: now)' },
    out: { type: 'string', value: 'FILE|-', help: 'write NDJSON to FILE (- for stdout) instead of publishing' },
    'no-late': { type: 'boolean', help: 'leave out the late events' },
  },
});
