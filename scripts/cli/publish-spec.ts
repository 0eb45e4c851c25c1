// `vault publish`: its usage and options, apart from what it does (publish.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const publishSpec: CommandSpec = {
  name: 'publish',
  synopsis: '[FILE | -]',
  summary: 'put events (FILE, or stdin) on the bus; exit 1 if any is rejected',
  details:
    'FILE (or stdin when it is - or not given) holds NDJSON, one event a line; one JSON array\n' +
    'of events, pretty-printed or not; or JSON objects one after another (a pretty-printed\n' +
    'event, `jq .` of several); UTF-8, with or without a byte order mark. Each rejected event\n' +
    'is printed with its line number (NDJSON) or its index (from 0), then a summary on stdout\n' +
    '(progress lines go to stderr); the events go on exactly as POST /v1/events puts them.\n' +
    'A FILE that cannot be opened (missing, a directory) is one line on stderr, exit 2; input\n' +
    'that is not UTF-8 text (UTF-16, gzip/zstd/xz/bzip2/zip, NUL bytes, invalid UTF-8 in its\n' +
    'first 64 KiB) is one line too, exit 1, nothing published. From a live stdin, lines go on\n' +
    'the bus once it pauses (250 ms); Ctrl-C (SIGINT) or SIGTERM publishes what was read whole,\n' +
    'prints the summary and exits 130 or 143. Running it again is safe: metering counts what\n' +
    'is already on the bus as duplicates.',
  positionals: 1,
};
