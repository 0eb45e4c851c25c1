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

/**
 * Why a PaymentIntent the invoice held was let go: revoked for other cards' declines (card testing),
 * a stray payment taken on it given back to the cardholder in full (migration 042), or else canceled.
 */
export type ReplacedBecause = 'other_cards_declined' | 'payment_given_back' | 'canceled';

/** What invoice.action_required adds when the cardholder was asked before in this round; nothing on a first ask. */
export interface AskedAgain {
  asked_before_at: string;
  replaces_payment_intent_id: string;
  /** Of `replaces_payment_intent_id` alone. */
  replaced_because: ReplacedBecause;
  /**
   * Of every PaymentIntent held from the one asked about at `asked_before_at` to the one replaced,
   * each reason once, in the order held: what the email tells (askedAgainWords).
   */
  replaced_since_asked_before: ReplacedBecause[];
}

/**
 * The latest invoice.action_required told in this round before `attempt` (attempts roundStart+1 …
 * attempt−1: one round is one card's), by its notice's id: when they were asked before. Asked on
 * `paymentIntentId` again (no new request), nothing. The PaymentIntent this one replaces is the one
 * the invoice held just before it (charge_payment_intents, in the order held), not the previous ask's:
 * another may have come and gone between (burnt by card testing while its attempt was in flight, a
 * stray payment given back), and the notice named the older one. Why it was replaced is that one's;
 * why each one since the previous ask's was let go goes with it, so the email keeps a card-testing
 * warning however the last one ended. In the telling transaction, after the invoice's lock.
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
  // Held before this one, latest first, back to the previous ask's (by its invoice: migration 039's index).
  const held = await client.query<{ pi: string; tested: boolean; given_back: boolean }>(
    `select p.payment_intent_id as pi, ${revokedForCardTestingSql('p.payment_intent_id', '$1')} as tested,
            p.given_back_at is not null as given_back
       from invoicing.charge_payment_intents p
      where p.invoice_id = $1 and p.payment_intent_id is distinct from $2
        and p.held_at <= coalesce((select held_at from invoicing.charge_payment_intents where payment_intent_id = $2), 'infinity')
        and p.held_at >= coalesce((select held_at from invoicing.charge_payment_intents where payment_intent_id = $3 and invoice_id = $1), 'infinity')
      order by p.held_at desc`,
    [invoiceId, paymentIntentId, before.pi],
  );
  // The previous ask's not recorded (held before 032): the one held just before alone, else the previous ask's, as before.
  const span = held.rows.length > 0 ? held.rows : await justBefore(client, invoiceId, paymentIntentId, before.pi);
  const because = (r: { tested: boolean; given_back: boolean }): ReplacedBecause =>
    r.tested ? 'other_cards_declined' : r.given_back ? 'payment_given_back' : 'canceled';
  return {
    asked_before_at: before.at,
    replaces_payment_intent_id: span[0]!.pi,
    replaced_because: because(span[0]!),
    replaced_since_asked_before: [...new Set([...span].reverse().map(because))],
  };
}

/** The PaymentIntent held just before `paymentIntentId`, else `previous` (the previous ask's): how it was let go. */
async function justBefore(client: pg.PoolClient, invoiceId: string, paymentIntentId: string | null, previous: string) {
  const replaced = await client.query<{ pi: string; tested: boolean; given_back: boolean }>(
    `with replaced as (
       select p.payment_intent_id as pi, p.given_back_at from invoicing.charge_payment_intents p
        where p.invoice_id = $1 and p.payment_intent_id is distinct from $2
          and p.held_at <= coalesce((select held_at from invoicing.charge_payment_intents where payment_intent_id = $2), 'infinity')
        order by p.held_at desc limit 1)
     select x.pi, ${revokedForCardTestingSql('x.pi', '$1')} as tested, x.given_back_at is not null as given_back from replaced x`,
    [invoiceId, paymentIntentId],
  );
  if (replaced.rows[0]) return replaced.rows;
  const tested = await client.query<{ t: boolean }>(`select ${revokedForCardTestingSql('$1', '$2')} as t`, [previous, invoiceId]);
  return [{ pi: previous, tested: tested.rows[0]?.t ?? false, given_back: false }];
}

/**
 * The email's words for a request made again (a notice with `asked_before_at`), else undefined:
 * for the invoice.action_required email (email/messages.ts), before its "Sign in …" step. Other cards
 * tried on the page since the earlier request say so first (it may be fraud); a payment given back is
 * said too (the cardholder sees it on their statement). A notice made before
 * `replaced_since_asked_before` reads its `replaced_because`.
 */
export function askedAgainWords(data: Record<string, unknown>): string | undefined {
  if (typeof data.asked_before_at !== 'string') return undefined;
  const day = DateTime.fromISO(data.asked_before_at, { zone: 'utc' }).toFormat('d LLLL yyyy');
  const since = Array.isArray(data.replaced_since_asked_before) ? data.replaced_since_asked_before : [data.replaced_because];
  const givenBack = since.includes('payment_given_back')
    ? 'A payment taken for this invoice since then did not match it and was given back to you in full.'
    : undefined;
  if (since.includes('other_cards_declined')) {
    return [
      `We asked you on ${day} to confirm this payment. That request was canceled to protect you: other cards were tried`,
      "and declined on this invoice's payment page. This is a new request; the earlier one can no longer be confirmed.",
      ...(givenBack ? [givenBack] : []),
      'If nobody on your side tried other cards, tell your platform support.',
    ].join('\n');
  }
  if (givenBack)
    return `We asked you on ${day} to confirm this payment. ${givenBack} That request can no longer be confirmed: this is a new request.`;
  return `We asked you on ${day} to confirm this payment. That request was canceled and can no longer be confirmed: this is a new request.`;
}
