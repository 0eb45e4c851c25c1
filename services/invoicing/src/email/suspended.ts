// What the account.suspended email says the customer can do, from the
// notice's `remedies` (accounts/suspension-remedies.ts): never "add a card, it
// is charged at once" for an invoice a card does not settle (a small one
// charged before the minimum was raised: an operator settles it) or when the
// card on file is blocked (another card is needed). A notice without
// `remedies` (recorded by an older release) points to the invoice pages, which
// say it for each invoice.
import { SUSPENSION_REMEDIES, type SuspensionRemedy } from '../accounts/suspension-remedies.ts';

interface Group {
  remedy: SuspensionRemedy;
  numbers: string[];
}

const CARD_FORM = 'the card form (linked from your invoices)';

function isGroup(x: unknown): x is Group {
  const g = x as Partial<Group> | null;
  return (
    typeof g === 'object' &&
    g !== null &&
    (SUSPENSION_REMEDIES as readonly unknown[]).includes(g.remedy) &&
    Array.isArray(g.numbers) &&
    g.numbers.length > 0 &&
    g.numbers.every((n) => typeof n === 'string')
  );
}

/** "2026-10-000007", "2026-09-000003 and 2026-10-000007", "A, B and C". */
const list = (numbers: string[]) =>
  numbers.length === 1 ? numbers[0]! : `${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]!}`;

function step({ remedy, numbers }: Group): string {
  const one = numbers.length === 1;
  const which = `${one ? 'invoice' : 'invoices'} ${list(numbers)}`;
  const it = one ? 'it' : 'them';
  switch (remedy) {
    case 'add_card':
      return `For ${which}, add a card on ${CARD_FORM}: it is charged at once.`;
    case 'add_another_card':
      return `For ${which}, the card on file cannot be used for payments here and will not be charged again. Add another card on ${CARD_FORM}: it is charged at once.`;
    case 'authenticate':
      return `For ${which}, your bank asks you to confirm the payment (3-D Secure): sign in, open the invoice and choose to authenticate and pay. Another card put on ${CARD_FORM} is charged at once too.`;
    case 'operator_settles':
      return [
        `${one ? 'Invoice' : 'Invoices'} ${list(numbers)} ${one ? 'is' : 'are'} below the smallest amount we can charge to a card, and a payment of ${it} was begun before:`,
        `we will not charge ${it} again, and ${one ? 'it is' : 'they are'} not added to your next invoice. A card does not settle ${it}:`,
        `please ask your platform support to settle ${it}.`,
      ].join('\n');
  }
}

/** The paragraph after "Your account … is suspended": how it is reinstated, for each remedy the notice names. */
export function suspensionSteps(remedies: unknown): string {
  const groups = Array.isArray(remedies) ? remedies.filter(isGroup) : [];
  if (groups.length === 0) {
    return 'It is reinstated as soon as nothing it owes is past due: sign in and open your invoices, each past-due one says how it can be settled.';
  }
  return ['It is reinstated as soon as nothing it owes is past due.', ...groups.map(step)].join('\n');
}
