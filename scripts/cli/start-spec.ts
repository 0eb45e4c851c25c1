// `vault start`: its usage and options, apart from what it does (start.ts), so that
// `vault help` and `--help` load this alone.
import { APPS } from './apps.ts';
import { defineCommand } from './command.ts';

export const startSpec = defineCommand({
  name: 'start',
  synopsis: '[app…] [--demo | --no-demo]',
  summary: `start the apps (all by default): ${APPS.map((a) => a.name).join(', ')}`,
  details:
    'One process tree; Ctrl-C stops everything. Without DATABASE_URL an embedded PostgreSQL\n' +
    'is started under VAULT_HOME. With all four apps on an empty database the demo is loaded\n' +
    '(by default only on the embedded PostgreSQL) and a sign-in link is printed.',
  options: {
    demo: { type: 'boolean', help: 'load the demo on an empty database, even one of your own' },
    'no-demo': { type: 'boolean', help: 'never load the demo' },
  },
  positionals: Infinity,
});
