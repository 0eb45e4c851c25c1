// The cardholder asked again for the same card in the same round: only after
// the PaymentIntent they were asked about was canceled under them (card
// testing revoked it: card-testing.ts), the invoice charged again after the
// hour on a new one. It is a new request, not a copy: the old PaymentIntent
// can no longer be confirmed, and for that hour the invoice page said "we
// charge your card shortly", so a customer who looked then has nothing left
// to act on; the platform must learn the PaymentIntent that now waits. So it
// is told, but as what it is: the notice says when they were asked before,
// which PaymentIntent it replaces and why, and the email can say so instead
// of reading like the first request sent twice.
import type pg from 'pg';
import { DateTime } from 'luxon';
import { revokedForCardTestingSql } from './round-ask.ts';

/** Why the PaymentIntent of the earlier request was replaced. */
export type ReplacedBecause = 'other_cards_declined' | 'canceled';

/** What invoice.action_required adds when the cardholder was asked before in this round; nothing on a first ask. */
export interface AskedAgain {
  asked_before_at: string;
  replaces_payment_intent_id: string;
  replaced_because: ReplacedBecause;
}

/**
 * The latest invoice.action_required told in this round before `attempt` (attempts roundStart+1 …
 * attempt−1: one round is one card's), by its notice's id: when they were asked before. Asked on
 * `paymentIntentId` again (no new request), nothing. The PaymentIntent this one replaces is the one
 * the invoice held just before it (charge_payment_intents, in the order held), not the previous ask's:
 * another may have come and gone between (burnt by card testing while its attempt was in flight, a
 * stray payment given back), and the notice named the older one. Why it was replaced is that one's:
 * revoked for other cards' declines, or else canceled. In the telling transaction, after the invoice's lock.
 */
export async function askedAgain(
  client: pg.PoolClient,
  invoiceId: string,
  roundStart: number,
  attempt: number,
  paymentIntentId: string | null,
): Promise<AskedAgain | undefined> {
  const ids: string[] = [];
  for (let k = roundStart + 1; k < attempt; k++) ids.push(`invoice.action_required:${invoiceId}:${k}`);
  if (ids.length === 0) return undefined;
  const { rows } = await client.query<{ at: string; pi: string | null }>(
    `select n.event->>'time' as at, n.event->'data'->>'payment_intent_id' as pi
       from invoicing.notices n
      where n.id = any($1::text[])
      order by (n.event->'data'->>'attempt')::int desc
      limit 1`,
    [ids],
  );
  const before = rows[0];
  if (!before?.pi || before.pi === paymentIntentId) return undefined;
  const replaced = await client.query<{ pi: string; tested: boolean }>(
    `with replaced as (
       select p.payment_intent_id as pi from invoicing.charge_payment_intents p
        where p.invoice_id = $1 and p.payment_intent_id is distinct from $2
          and p.held_at <= coalesce((select held_at from invoicing.charge_payment_intents where payment_intent_id = $2), 'infinity')
        order by p.held_at desc limit 1)
     select x.pi, ${revokedForCardTestingSql('x.pi', '$1')} as tested from replaced x`,
    [invoiceId, paymentIntentId],
  );
  // Held before 032 kept no record of the PaymentIntents in between: the previous ask's, as before.
  const pi = replaced.rows[0]?.pi ?? before.pi;
  const tested =
    replaced.rows[0]?.tested ??
    (await client.query<{ t: boolean }>(`select ${revokedForCardTestingSql('$1', '$2')} as t`, [pi, invoiceId])).rows[0]?.t;
  return { asked_before_at: before.at, replaces_payment_intent_id: pi, replaced_because: tested ? 'other_cards_declined' : 'canceled' };
}

/**
 * The email's words for a request made again (a notice with `asked_before_at`), else undefined:
 * for the invoice.action_required email (email/messages.ts), before its "Sign in …" step.
 */
export function askedAgainWords(data: Record<string, unknown>): string | undefined {
  if (typeof data.asked_before_at !== 'string') return undefined;
  const day = DateTime.fromISO(data.asked_before_at, { zone: 'utc' }).toFormat('d LLLL yyyy');
  return data.replaced_because === 'other_cards_declined'
    ? [
        `We asked you on ${day} to confirm this payment. That request was canceled to protect you: other cards were tried`,
        "and declined on this invoice's payment page. This is a new request; the earlier one can no longer be confirmed.",
        'If nobody on your side tried other cards, tell your platform support.',
      ].join('\n')
    : `We asked you on ${day} to confirm this payment. That request was canceled and can no longer be confirmed: this is a new request.`;
}
