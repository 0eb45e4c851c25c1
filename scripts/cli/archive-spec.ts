// `vault archive`: its usage and options, apart from what it does (archive.ts), so that
// `vault help` and `--help` load this alone.
import { defineCommand } from './command.ts';

export const archiveSpec = defineCommand({
  name: 'archive',
  synopsis: '[--before INSTANT] [--dir DIR] [--events-only]',
  summary: 'move raw events and final usage older than EVENT_RETENTION to NDJSON gzip files',
  details:
    'Events that happened and arrived before the cut leave metering.events for files: a closed\n' +
    "subject's (a stopped dyno, a deprovisioned add-on) all, an open one's all but its last\n" +
    'before the cut. Usage stays: what came from those events can no longer change and\n' +
    'moves to the settled table, by the month it ended in. Events stay known by their\n' +
    'keys (a re-send is still a duplicate). One line per file. Then each month of stored\n' +
    'events that ended before the cut is dropped as a table, what stays of it moved to the\n' +
    'current month.\n' +
    'Then the usage horizon moves up to the month of the cut, no further than the first\n' +
    'month invoicing does not hold final (an account with usage and no invoice of it, a\n' +
    'hold, late usage not yet carried, a change not yet folded: the line says which), nor\n' +
    'past a month that ended less than INVOICE_GRACE_HOURS ago.\n' +
    'From then on an event timed before the horizon is rejected, and each settled month\n' +
    'before it goes to a file (metering-usage-YYYY-MM-NNNN.ndjson.gz) and its table is\n' +
    "dropped; invoicing's usage aggregates before it are deleted (the invoices stay).\n" +
    '--events-only leaves usage and the horizon alone.\n' +
    'Safe to kill and run again. Default cut: now − EVENT_RETENTION (P13M); default DIR:\n' +
    'ARCHIVE_DIR, else $VAULT_HOME/archive.',
  options: {
    before: {
      type: 'string',
      value: 'INSTANT',
      help: 'the cut, an ISO-8601 instant with an offset, not in the future (default: now − EVENT_RETENTION)',
    },
    dir: { type: 'string', value: 'DIR', help: 'where the files go (default: ARCHIVE_DIR or $VAULT_HOME/archive)' },
    'events-only': { type: 'boolean', help: 'archive events only: usage and the usage horizon stay as they are' },
  },
});
