// `vault publish`: its usage and options, apart from what it does (publish.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec } from './command.ts';

export const publishSpec: CommandSpec = {
  name: 'publish',
  synopsis: '[FILE | -]',
  summary: 'put events (FILE, or stdin) on the bus; exit 1 if any is rejected',
  details:
    'FILE (or stdin when it is - or not given) holds NDJSON, one event a line, or one JSON\n' +
    'array of events, pretty-printed or not; UTF-8, with or without a byte order mark.\n' +
    'Each rejected event is printed with its line number (NDJSON) or its element index\n' +
    '(a JSON array, from 0), then a summary; the events go on exactly as POST /v1/events\n' +
    'puts them. A FILE that cannot be opened (missing, a directory) is one line on stderr,\n' +
    'exit 2; input that is not UTF-8 text (UTF-16) is one line too, exit 1, nothing published.',
  positionals: 1,
};
