// Charging's SQL: the writes decide.ts's results make (the invoices that may be due a
// charge are candidates.ts').
import type pg from 'pg';
import { withTransaction, type TransactionLog } from '@vault/db';
import { type CardOnFile, type ChargeableInvoice, type ChargeRow, STRAY_PAYMENT } from './decide.ts';
import { isBlockedSql } from './blocked-cards.ts';
import type { RecordedInvoice } from './payment-match.ts';
import { tellChargeChange, tellPaid, type ChargeChange } from './tell.ts';

type Db = pg.Pool | pg.PoolClient;

export interface Candidate {
  invoice: ChargeableInvoice;
  charge: ChargeRow | undefined;
  card: CardOnFile | undefined;
  /** The charge row's random idempotency key; undefined while the invoice has no charge row. */
  key?: string | undefined;
  /** When its cardholder was last asked to authenticate (decide's askedAt). */
  askedAt?: Date | null;
}

/** A pool and where retries of its transactions are told. */
export interface ChargeDb {
  pool: pg.Pool;
  log?: TransactionLog;
}

/**
 * Locks the invoice's row for the rest of the transaction: the first lock of
 * every transaction that changes an invoice or what hangs off it (its charge,
 * gateway events, notices, ledger entries), so two of them never wait on each
 * other in opposite orders. False when there is no such invoice.
 */
export async function lockInvoice(client: pg.PoolClient, invoiceId: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from invoicing.invoices where id = $1 for update', [invoiceId]);
  return (rowCount ?? 0) > 0;
}

/** Locks the invoice (as lockInvoice) and reads what a reported payment is checked against. */
export async function lockInvoiceForPayment(client: pg.PoolClient, invoiceId: string): Promise<RecordedInvoice | undefined> {
  const { rows } = await client.query<{ total: string; currency: string; payment_intent_id: string | null }>(
    `select i.total::text as total, i.currency, c.payment_intent_id
       from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
      where i.id = $1
        for update of i`,
    [invoiceId],
  );
  const r = rows[0];
  return r && { total: r.total, currency: r.currency, paymentIntentId: r.payment_intent_id };
}

/**
 * Writes the charge row (insert or update) and, if given, the invoice's new
 * status and the notices of what happened, in one transaction that locks the
 * invoice first. A paid row or invoice is never changed again: a webhook may
 * have marked it paid meanwhile, and paid is absorbing. Returns the row's
 * idempotency key (random, given by the database when the row is first
 * written; changed only by `renewKey`), or undefined when the row is paid.
 */
export async function saveCharge(
  db: ChargeDb,
  invoiceId: string,
  charge: ChargeRow,
  change: ChargeChange | ChargeChange['invoiceStatus'] = {},
  /**
   * A new random idempotency key: the create under the old key was refused (none is under it),
   * the PaymentIntent under it was canceled and is let go, or a confirm under it got a 5xx the
   * gateway would answer again for a day (its PaymentIntent read first: neither paid nor failed).
   * A PaymentIntent kept on the row is never created again, so only its confirms use the new key.
   */
  renewKey = false,
): Promise<string | undefined> {
  return withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      return writeCharge(client, invoiceId, charge, change, renewKey);
    },
    { log: db.log, name: 'charging.save_charge' },
  );
}

/**
 * An invoice past due for want of a card (or for its only card reported stolen), unless the account
 * has a usable one now: the pass read the
 * cards at its start, maybe hours ago, and a card added since must not be told (and emailed) as
 * missing. Read again under the invoice's lock: `written` (past due, told), `card_now` (nothing
 * written; the next pass charges the card) or `paid` (a webhook paid it, or held a stray on it, meanwhile
 * (writeCharge); nothing written).
 */
export async function savePastDueWithoutCard(
  db: ChargeDb,
  invoiceId: string,
  charge: ChargeRow,
  at: Date,
): Promise<'written' | 'card_now' | 'paid'> {
  return withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      const { rows } = await client.query<{ paid: boolean; card: boolean }>(
        `select coalesce(c.state = 'paid', false) as paid,
                exists (select 1 from cc_forms.cards_on_file k
                         where k.account_id = i.account_id and not ${isBlockedSql('k.payment_method_id', 'k.fingerprint')}) as card
           from invoicing.invoices i left join invoicing.charges c on c.invoice_id = i.id
          where i.id = $1`,
        [invoiceId],
      );
      // Paid comes first: a card added as well changes nothing left to charge.
      if (rows[0]?.paid) return 'paid';
      if (rows[0]?.card) return 'card_now';
      return (await writeCharge(client, invoiceId, charge, { invoiceStatus: 'past_due', at }, false)) === undefined ? 'paid' : 'written';
    },
    { log: db.log, name: 'charging.past_due_no_card' },
  );
}

/**
 * saveCharge's writes, in the caller's transaction after the invoice's lock. Undefined (nothing written
 * or told) also when the row holds a stray on the PaymentIntent `charge` keeps, unless `charge` is
 * itself stray: a pass writing the row it read before the webhook held the stray (holdStray: no card,
 * an attempt) would erase the hold. A release (releaseRefundedStray) lets the PaymentIntent go, so it is written.
 */
export async function writeCharge(
  client: pg.PoolClient,
  invoiceId: string,
  charge: ChargeRow,
  change: ChargeChange | ChargeChange['invoiceStatus'],
  renewKey: boolean,
): Promise<string | undefined> {
  const { invoiceStatus, ...told } = typeof change === 'object' ? change : { invoiceStatus: change };
  const saved = await client.query<{ idempotency_key: string }>(
    `insert into invoicing.charges as c
       (invoice_id, payment_intent_id, state, attempts, round_start, pending_payment_method_id, last_payment_method_id,
        last_attempt_at, next_attempt_at, last_error_code, last_decline_code, last_error_message)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (invoice_id) do update set
       payment_intent_id = excluded.payment_intent_id, state = excluded.state, attempts = excluded.attempts,
       round_start = excluded.round_start, pending_payment_method_id = excluded.pending_payment_method_id,
       last_payment_method_id = excluded.last_payment_method_id, last_attempt_at = excluded.last_attempt_at,
       next_attempt_at = excluded.next_attempt_at, last_error_code = excluded.last_error_code,
       last_decline_code = excluded.last_decline_code, last_error_message = excluded.last_error_message,
       idempotency_key = case when $13 then 'pi-' || replace(gen_random_uuid()::text, '-', '') else c.idempotency_key end,
       updated_at = now()
     where c.state <> 'paid'
       and not coalesce(c.last_error_code = $14 and c.payment_intent_id = excluded.payment_intent_id
                        and excluded.last_error_code is distinct from $14, false)
     returning c.idempotency_key`,
    [
      invoiceId,
      charge.paymentIntentId,
      charge.state,
      charge.attempts,
      charge.roundStart,
      charge.pendingPaymentMethodId,
      charge.lastPaymentMethodId,
      charge.lastAttemptAt,
      charge.nextAttemptAt,
      charge.lastErrorCode,
      charge.lastDeclineCode,
      charge.lastErrorMessage,
      renewKey,
      STRAY_PAYMENT,
    ],
  );
  const key = saved.rows[0]?.idempotency_key;
  if (key === undefined) return undefined; // paid: nothing more to change or tell
  if (invoiceStatus === 'paid') {
    await markInvoicePaid(client, invoiceId, undefined, { at: told.at, paymentMethodId: charge.lastPaymentMethodId });
  }
  await tellChargeChange(client, invoiceId, charge, { invoiceStatus, ...told });
  return key;
}

/** The charge row, in the caller's transaction (after the invoice's lock), with when the cardholder was asked. */
export async function readChargeRow(
  client: pg.PoolClient,
  invoiceId: string,
): Promise<(ChargeRow & { actionRequiredAt: Date | null }) | undefined> {
  const { rows } = await client.query<ChargeRow & { actionRequiredAt: Date | null }>(
    `select payment_intent_id as "paymentIntentId", state, attempts, round_start as "roundStart",
            pending_payment_method_id as "pendingPaymentMethodId", last_payment_method_id as "lastPaymentMethodId",
            last_attempt_at as "lastAttemptAt", next_attempt_at as "nextAttemptAt", last_error_code as "lastErrorCode",
            last_decline_code as "lastDeclineCode", last_error_message as "lastErrorMessage", action_required_at as "actionRequiredAt"
       from invoicing.charges where invoice_id = $1`,
    [invoiceId],
  );
  return rows[0];
}

/**
 * A cardholder's time is up: the invoice moves to past_due (told once) while
 * its row keeps waiting. The row is read again under the invoice's lock and
 * not written: a decline the webhook recorded after the pass read it stays,
 * and its code says why in the notice (only the time of the look is set, as
 * lookedForPayment does). False when it no longer waits (paid).
 */
export async function pastDueWhileWaiting(db: ChargeDb, invoiceId: string, at: Date): Promise<boolean> {
  return withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      const row = await readChargeRow(client, invoiceId);
      if (row?.state !== 'action_required') return false;
      await tellChargeChange(client, invoiceId, row, { invoiceStatus: 'past_due', at });
      await setLookedAt(client, invoiceId, row.paymentIntentId, at);
      return true;
    },
    { log: db.log, name: 'charging.past_due_unauthenticated' },
  );
}

/**
 * The pass looked at a past-due invoice's PaymentIntent, still waiting for its cardholder: the
 * next look is pastDueLookEvery later (decide's look_for_payment), not at every pass. Nothing else is
 * written; a row no longer waiting on that PaymentIntent (paid, another card's round) is left alone.
 */
export async function lookedForPayment(db: ChargeDb, invoiceId: string, paymentIntentId: string | null, at: Date): Promise<void> {
  await withTransaction(
    db.pool,
    async (client) => {
      await lockInvoice(client, invoiceId);
      await setLookedAt(client, invoiceId, paymentIntentId, at);
    },
    { log: db.log, name: 'charging.looked_for_payment' },
  );
}

/** The account's past-due invoices whose PaymentIntent waits for the cardholder (read before its standing review). */
export async function waitingPastDue(db: Db, accountId: string): Promise<{ invoiceId: string; paymentIntentId: string }[]> {
  const { rows } = await db.query<{ invoiceId: string; paymentIntentId: string }>(
    `select i.id as "invoiceId", c.payment_intent_id as "paymentIntentId"
       from invoicing.invoices i join invoicing.charges c on c.invoice_id = i.id
      where i.account_id = $1 and i.status = 'past_due' and c.state = 'action_required' and c.payment_intent_id is not null`,
    [accountId],
  );
  return rows;
}

// Once its invoice is past due, a waiting row's last_attempt_at is no attempt's any more (nothing
// reads it but decide's look): it is when the charger last looked, so the next look is pastDueLookEvery after it.
async function setLookedAt(client: pg.PoolClient, invoiceId: string, paymentIntentId: string | null, at: Date): Promise<void> {
  await client.query(
    `update invoicing.charges set last_attempt_at = $3, updated_at = now()
      where invoice_id = $1 and state = 'action_required' and payment_intent_id is not distinct from $2`,
    [invoiceId, paymentIntentId, at],
  );
}

/**
 * Marks an invoice paid (and its charge row, if any, with when and the card);
 * a no-op when it already is. True if it changed, and then its invoice.paid
 * notice is recorded and a suspended account with nothing else past due is
 * reinstated. The invoice's row is updated (so locked) before the charge's:
 * the one lock order. `at`: when it was paid (default now); `recordedAt`: when
 * we learn it (default `at`), the reinstatement's time: suspended until then.
 */
export async function markInvoicePaid(
  client: pg.PoolClient,
  invoiceId: string,
  paymentIntentId?: string,
  paid: { at?: Date | undefined; recordedAt?: Date | undefined; paymentMethodId?: string | null | undefined } = {},
): Promise<boolean> {
  // Refunded comes after paid: a late or replayed payment never moves it back.
  const { rowCount } = await client.query(
    `update invoicing.invoices set status = 'paid' where id = $1 and status in ('finalized', 'past_due', 'action_required')`,
    [invoiceId],
  );
  const at = paid.at ?? new Date();
  await client.query(
    `update invoicing.charges
        set state = 'paid', next_attempt_at = null, pending_payment_method_id = null,
            payment_intent_id = coalesce(payment_intent_id, $2), updated_at = now()
      where invoice_id = $1 and state <> 'paid'`,
    [invoiceId, paymentIntentId ?? null],
  );
  if ((rowCount ?? 0) === 0) return false;
  await tellPaid(client, invoiceId, at, paid.paymentMethodId ?? null, paid.recordedAt);
  return true;
}

/**
 * Records a gateway event as handled, in the caller's transaction; false when
 * it already was (a redelivery or a replay).
 */
export async function recordEvent(client: pg.PoolClient, event: { id: string; type: string }): Promise<boolean> {
  const { rowCount } = await client.query('insert into invoicing.gateway_events (id, type) values ($1, $2) on conflict (id) do nothing', [
    event.id,
    event.type,
  ]);
  return (rowCount ?? 0) > 0;
}
