// `vault card`: its usage and options, apart from what it does (card.ts), so that
// `vault help` and `--help` load this alone.
import type { CommandSpec, GroupSpec } from './command.ts';

const cardAddSpec: CommandSpec = {
  name: 'card add',
  synopsis: '--account ID [--test-card NUMBER]',
  summary: 'put a sandbox test card (4242… by default) on file for the account, as the card form does',
  details: 'The gateway sandbox must be running; a real gateway is refused.',
  options: {
    account: { type: 'string', value: 'ID', help: 'the account (required)' },
    'test-card': { type: 'string', value: 'NUMBER', help: 'one of the sandbox test card numbers (default 4242424242424242)' },
  },
};

export const cardSpec: GroupSpec = {
  name: 'card',
  summary: 'cards on file, for development against the gateway sandbox',
  subcommands: [cardAddSpec],
};
