// `vault archive`: its usage and options, apart from what it does (archive.ts), so that
// `vault help` and `--help` load this alone.
import { defineCommand } from './command.ts';

export const archiveSpec = defineCommand({
  name: 'archive',
  synopsis: '[--before INSTANT] [--dir DIR]',
  summary: 'move raw events older than EVENT_RETENTION to NDJSON gzip files',
  details:
    'Events that happened and arrived before the cut leave metering.events for files: a closed\n' +
    "subject's (a stopped dyno, a deprovisioned add-on) all, an open one's all but its last\n" +
    'before the cut. Usage stays: what came from those events can no longer change and\n' +
    'moves to the settled table, by the month it ended in. Events stay known by their\n' +
    'keys (a re-send is still a duplicate). One line per file. Then each month of stored\n' +
    'events that ended before the cut is dropped as a table, what stays of it moved to the\n' +
    'current month. Safe to kill and run again. Default cut: now − EVENT_RETENTION\n' +
    '(P13M); default DIR: ARCHIVE_DIR, else $VAULT_HOME/archive.',
  options: {
    before: { type: 'string', value: 'INSTANT', help: 'the cut, an ISO-8601 instant with an offset (default: now − EVENT_RETENTION)' },
    dir: { type: 'string', value: 'DIR', help: 'where the files go (default: ARCHIVE_DIR or $VAULT_HOME/archive)' },
  },
});
