// What lifts a suspension, told in account.suspended (`remedies`) so the email
// (and the platform) can say it: a card is not always the answer. A small
// invoice charged before the minimum was raised (`not_chargeable`) is never
// charged again nor carried, so only an operator settles it; a card on file
// blocked for fraud (its own or another account's) is never charged again, so
// another card is needed. Read as the invoice pages read it (payment-state.ts).
import type pg from 'pg';
import type { Invoice } from '@vault/contracts';
import { CARD_BLOCKED_ELSEWHERE } from '../charging/blocked-cards.ts';
import { type PaymentState, readPaymentStates } from '../charging/payment-state.ts';

/** In the order the email says them: what the customer does first, an operator's settling last. */
export const SUSPENSION_REMEDIES = ['add_card', 'add_another_card', 'authenticate', 'operator_settles'] as const;
export type SuspensionRemedy = (typeof SUSPENSION_REMEDIES)[number];

/** One remedy and the past-due invoices it lifts (ids and numbers in the same order). */
export interface RemedyGroup {
  remedy: SuspensionRemedy;
  invoice_ids: string[];
  numbers: string[];
}

/** What the customer can do about a past-due invoice in this payment state. */
export function remedyOf(state: PaymentState): SuspensionRemedy {
  switch (state.kind) {
    case 'not_chargeable':
      return 'operator_settles';
    case 'action_required':
      return 'authenticate';
    case 'past_due':
      return state.why === 'card_blocked' || state.why === CARD_BLOCKED_ELSEWHERE ? 'add_another_card' : 'add_card';
    default:
      // No card, declined, refused, a new card's round under way: a card put on file is charged at once.
      return 'add_card';
  }
}

/** The remedies of these invoices (`ids` in their order), grouped in SUSPENSION_REMEDIES' order; read on `client`'s snapshot. */
export async function suspensionRemedies(client: pg.PoolClient, ids: readonly string[]): Promise<RemedyGroup[]> {
  if (ids.length === 0) return [];
  // Stored invoices are finalized: each has its number.
  const { rows } = await client.query<Pick<Invoice, 'id' | 'status' | 'total' | 'currency' | 'amount_refunded'> & { number: string }>(
    `select id, number, status, total::text, currency, amount_refunded::text from invoicing.invoices where id = any($1::text[])`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const states = await readPaymentStates(client, rows);
  const groups = new Map<SuspensionRemedy, RemedyGroup>();
  for (const id of ids) {
    const invoice = byId.get(id);
    const state = states.get(id);
    if (!invoice || !state) continue;
    const remedy = remedyOf(state);
    const group = groups.get(remedy) ?? { remedy, invoice_ids: [], numbers: [] };
    group.invoice_ids.push(id);
    group.numbers.push(invoice.number);
    groups.set(remedy, group);
  }
  return SUSPENSION_REMEDIES.flatMap((r) => groups.get(r) ?? []);
}
