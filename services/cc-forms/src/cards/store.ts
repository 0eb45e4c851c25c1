// Gateway customers, the setup intents opened for them, and cards on file
// (`cc_forms.customers`, `cc_forms.setup_intents`, `cc_forms.cards`).
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import type { CardOnFile } from '../domain/card.ts';

/** The pool, or a transaction's client (finishing a setup runs under the account's card lock). */
export type Db = Pick<pg.PoolClient, 'query'>;

export async function customerOf(pool: pg.Pool, accountId: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ customer_id: string }>('select customer_id from cc_forms.customers where account_id = $1', [
    accountId,
  ]);
  return rows[0]?.customer_id;
}

/**
 * The idempotency key of the account's customer creation: random, stored once
 * (migration 003) before the request, so a replay after a crash sends the same.
 */
export async function customerKey(pool: pg.Pool, accountId: string): Promise<string> {
  await pool.query('insert into cc_forms.customer_keys (account_id) values ($1) on conflict do nothing', [accountId]);
  const { rows } = await pool.query<{ key: string }>('select key from cc_forms.customer_keys where account_id = $1', [accountId]);
  return rows[0]!.key;
}

/**
 * A new key for the account's customer creation, in place of `used` (a 500 under it is
 * replayed for a day), stored before it is sent. Another request may have renewed it
 * meanwhile: its key stands. Returns the key now stored.
 */
export async function renewCustomerKey(pool: pg.Pool, accountId: string, used: string): Promise<string> {
  await pool.query(
    `update cc_forms.customer_keys set key = 'customer-' || replace(gen_random_uuid()::text, '-', '') where account_id = $1 and key = $2`,
    [accountId, used],
  );
  return customerKey(pool, accountId);
}

/**
 * Records the account's gateway customer; the first one stored wins (a replay
 * of the same idempotent create gives the same id anyway). Returns the stored id.
 */
export async function rememberCustomer(pool: pg.Pool, accountId: string, customerId: string): Promise<string> {
  await pool.query('insert into cc_forms.customers (account_id, customer_id) values ($1, $2) on conflict (account_id) do nothing', [
    accountId,
    customerId,
  ]);
  return (await customerOf(pool, accountId))!;
}

const CARD_COLUMNS = 'customer_id, payment_method_id, brand, last4, exp_month, exp_year, added_at';

interface CardRow {
  customer_id: string;
  payment_method_id: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  added_at: Date;
}

const asCard = (r: CardRow | undefined): CardOnFile | undefined =>
  r && {
    customerId: r.customer_id,
    paymentMethodId: r.payment_method_id,
    brand: r.brand,
    last4: r.last4,
    expMonth: r.exp_month,
    expYear: r.exp_year,
    addedAt: r.added_at,
  };

export async function cardOnFile(pool: Db, accountId: string): Promise<CardOnFile | undefined> {
  const { rows } = await pool.query<CardRow>(`select ${CARD_COLUMNS} from cc_forms.cards_on_file where account_id = $1`, [accountId]);
  return asCard(rows[0]);
}

/** The account's card on file if that setup intent is the one it came from (a finish posted again), else undefined. */
export async function cardFromSetupIntent(pool: Db, accountId: string, setupIntentId: string): Promise<CardOnFile | undefined> {
  const { rows } = await pool.query<CardRow>(`select ${CARD_COLUMNS} from cc_forms.cards where account_id = $1 and setup_intent_id = $2`, [
    accountId,
    setupIntentId,
  ]);
  return asCard(rows[0]);
}

/**
 * How long a setup intent opened here may be finished: a card form session lasts 12 hours, so one
 * older than a day is abandoned; its row goes (the table would only grow), and finishing it is
 * refused as one not opened here (the customer saves the card again).
 */
export const SETUP_INTENT_KEPT_HOURS = 24;

/** A setup intent opened for the account (migration 004): the only ones POST /card asks the gateway about. */
export async function rememberSetupIntent(pool: pg.Pool, accountId: string, setupIntentId: string): Promise<void> {
  await pool.query(
    `with abandoned as (
       delete from cc_forms.setup_intents where account_id = $2 and created_at < now() - make_interval(hours => $3)
     )
     insert into cc_forms.setup_intents (id, account_id) values ($1, $2)`,
    [setupIntentId, accountId, SETUP_INTENT_KEPT_HOURS],
  );
}

/**
 * Where a setup intent stands for the account: not opened here for it; `superseded`, opened before the
 * one the card on file came from (finishing it would put back a card the customer has replaced since);
 * else `open`. A card on file whose setup intent has no row (its row pruned, or saved before migration 004)
 * supersedes nothing: every row left is newer than it.
 */
export async function setupIntentStanding(
  db: Db,
  accountId: string,
  setupIntentId: string,
): Promise<'not_started_here' | 'superseded' | 'open'> {
  const { rows } = await db.query<{ superseded: boolean }>(
    `select coalesce(cur.seq > si.seq, false) as superseded
       from cc_forms.setup_intents si
       left join cc_forms.cards c on c.account_id = si.account_id
       left join cc_forms.setup_intents cur on cur.id = c.setup_intent_id and cur.account_id = si.account_id
      where si.id = $1 and si.account_id = $2`,
    [setupIntentId, accountId],
  );
  if (!rows[0]) return 'not_started_here';
  return rows[0].superseded ? 'superseded' : 'open';
}

/**
 * Runs `fn` in a transaction holding the account's card lock: setting the gateway's default and
 * storing the card happen one account's finish at a time, so two tabs finishing at once cannot
 * leave the gateway's default naming one card and cards_on_file another. The lock is only tried:
 * a finish that finds it taken gives its connection back at once and gets `'busy'` (a waiter would
 * hold a pooled connection for as long as the holder's gateway call, and enough of them would leave
 * no connection for anybody's request).
 */
export async function withCardLock<T>(pool: pg.Pool, accountId: string, fn: (client: Db) => Promise<T>): Promise<T | 'busy'> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>(
      "select pg_try_advisory_xact_lock(hashtext('cc_forms.cards'), hashtext($1)) as locked",
      [accountId],
    );
    return rows[0]!.locked ? fn(client) : 'busy';
  });
}

export interface NewCard {
  customerId: string;
  paymentMethodId: string;
  setupIntentId: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** The gateway's (migration 007): published to invoicing, which blocks a card charged back as fraud by it. */
  fingerprint?: string | undefined;
}

/**
 * Makes the card the account's card on file. Saving the same payment method
 * again (a retried request) changes nothing, so `added_at` moves only when the
 * card really changed: invoicing reads it as "a new card to try".
 */
export async function saveCard(pool: Db, accountId: string, card: NewCard): Promise<CardOnFile> {
  await pool.query(
    `insert into cc_forms.cards (account_id, customer_id, payment_method_id, setup_intent_id, brand, last4, exp_month, exp_year, fingerprint)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (account_id) do update set
       customer_id = excluded.customer_id, payment_method_id = excluded.payment_method_id,
       setup_intent_id = excluded.setup_intent_id, brand = excluded.brand, last4 = excluded.last4,
       exp_month = excluded.exp_month, exp_year = excluded.exp_year, fingerprint = excluded.fingerprint, added_at = now()
     where cards.payment_method_id is distinct from excluded.payment_method_id`,
    [
      accountId,
      card.customerId,
      card.paymentMethodId,
      card.setupIntentId,
      card.brand,
      card.last4,
      card.expMonth,
      card.expYear,
      card.fingerprint ?? null,
    ],
  );
  return (await cardOnFile(pool, accountId))!;
}
