// The credit ledger's SQL (migration 007): lots and their remainders, grants,
// what a finalized invoice draws or leaves, expiries, and the small totals
// waiting to be carried. Entries are only ever inserted (a trigger refuses
// the rest); the balance is always derived from them.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { CreditGrant } from '@vault/contracts';
import type { CreditLot, Settlement, SmallInvoice } from '../domain/credit.ts';
import { Money } from '../domain/money.ts';
import { appendTo } from '../domain/group.ts';
import type { InvoiceFacts } from '../notices/notice.ts';

type Db = pg.Pool | pg.PoolClient;

export const entryId = () => `cr_${randomBytes(12).toString('hex')}`;

/** Each account's lots granted (or left) by `at` with something left that are not expired at `at`: the balance as of `at`. */
export async function creditLots(db: Db, accounts: readonly string[] | undefined, at: Date): Promise<Map<string, CreditLot[]>> {
  const { rows } = await db.query<LotRow>(CREDIT_LOTS, [accounts ?? null, at]);
  return lotsOfRows(rows);
}

/**
 * Lots made at or before $2 with credit left and not expired at $2, of the
 * accounts $1 (all when null). A grant recorded after $2 is not in the balance
 * as of $2: a finalize run whose clock is $2 never draws on it (its `applied`
 * entry, dated $2, would come before the grant), the next run does.
 */
export const CREDIT_LOTS = `
  select id, account_id, remaining::text, expires_at, at from invoicing.credit_lots
   where remaining > 0 and at <= $2 and (expires_at is null or expires_at > $2)
     and ($1::text[] is null or account_id = any($1::text[]))`;

export type LotRow = { id: string; account_id: string; remaining: string; expires_at: Date | null; at: Date };

export function lotsOfRows(rows: readonly LotRow[]): Map<string, CreditLot[]> {
  const out = new Map<string, CreditLot[]>();
  for (const r of rows) {
    appendTo(out, r.account_id, { id: r.id, remaining: r.remaining, expiresAt: r.expires_at, at: r.at });
  }
  return out;
}

/** A grant as asked for: the operator's id is its idempotency key. */
export interface GrantRequest {
  grantId: string;
  accountId: string;
  amount: string;
  currency: string;
  reason: string;
  expiresAt: Date | null;
  /** Billing's clock. */
  at: Date;
}

export type GrantOutcome =
  | { outcome: 'created' | 'existing'; grant: CreditGrant }
  /** The id was used for a grant with other values: nothing is changed. */
  | { outcome: 'conflict'; grant: CreditGrant; differs: string[] };

interface GrantRow {
  grant_id: string;
  account_id: string;
  amount: string;
  currency: string;
  reason: string;
  expires_at: Date | null;
  at: Date;
}

const grantOf = (r: GrantRow): CreditGrant => ({
  id: r.grant_id,
  account_id: r.account_id,
  amount: r.amount,
  currency: r.currency,
  reason: r.reason,
  expires_at: r.expires_at?.toISOString() ?? null,
  granted_at: r.at.toISOString(),
});

/**
 * Records a grant once: the same id again finds the first (`existing`), or
 * says which fields differ (`conflict`); either way nothing changes.
 */
export async function grantCredit(db: Db, g: GrantRequest): Promise<GrantOutcome> {
  const inserted = await db.query<GrantRow>(
    `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, grant_id, reason, expires_at, at)
     values ($1, $2, 'grant', $3, $4, $5, $6, $7, $8)
     on conflict (grant_id) do nothing
     returning grant_id, account_id, amount::text, currency, reason, expires_at, at`,
    [entryId(), g.accountId, g.amount, g.currency, g.grantId, g.reason, g.expiresAt, g.at],
  );
  if (inserted.rows[0]) return { outcome: 'created', grant: grantOf(inserted.rows[0]) };
  return (await storedGrant(db, g))!;
}

/** The grant already recorded under `g`'s id, as the same (`existing`) or another (`conflict`); undefined when there is none. */
export async function storedGrant(db: Db, g: Omit<GrantRequest, 'currency' | 'at'>): Promise<GrantOutcome | undefined> {
  const { rows } = await db.query<GrantRow>(
    `select grant_id, account_id, amount::text, currency, reason, expires_at, at from invoicing.credit_entries where grant_id = $1`,
    [g.grantId],
  );
  const first = rows[0];
  if (!first) return undefined;
  const differs = [
    first.account_id !== g.accountId && 'account_id',
    // Compared as amounts: the same grant sent again as "010.00" is the same grant.
    !new Money(first.amount).eq(g.amount) && 'amount',
    first.reason !== g.reason && 'reason',
    (first.expires_at?.getTime() ?? null) !== (g.expiresAt?.getTime() ?? null) && 'expires_at',
  ].filter((x): x is string => x !== false);
  return differs.length === 0 ? { outcome: 'existing', grant: grantOf(first) } : { outcome: 'conflict', grant: grantOf(first), differs };
}

/** An invoice being finalized and how the balance settled it. */
export interface SettledInvoice {
  invoiceId: string;
  accountId: string;
  currency: string;
  settlement: Settlement;
}

/** The ledger entries of finalized invoices: what each drew on its lots, and what a negative subtotal left. */
export async function recordSettlements(client: pg.PoolClient, settled: readonly SettledInvoice[], at: Date): Promise<void> {
  const rows: { id: string; account: string; kind: string; amount: string; currency: string; lot: string | null; invoice: string }[] = [];
  // Entries made together share a date: ids in the order they were drawn (lots in use order) keep the ledger's listing (at, id) in it.
  const batch = randomBytes(8).toString('hex');
  const nextId = () => `cr_${batch}${String(rows.length).padStart(8, '0')}`;
  for (const s of settled) {
    for (const use of s.settlement.uses) {
      rows.push({
        id: nextId(),
        account: s.accountId,
        kind: 'applied',
        amount: `-${use.amount}`,
        currency: s.currency,
        lot: use.lotId,
        invoice: s.invoiceId,
      });
    }
    if (s.settlement.remainder !== '0.00') {
      const { remainder } = s.settlement;
      rows.push({
        id: nextId(),
        account: s.accountId,
        kind: 'invoice_remainder',
        amount: remainder,
        currency: s.currency,
        lot: null,
        invoice: s.invoiceId,
      });
    }
  }
  if (rows.length === 0) return;
  await client.query(
    `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, lot_id, invoice_id, at)
     select id, account_id, kind, amount, currency, lot_id, invoice_id, $8
       from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[], $7::text[])
         as x(id, account_id, kind, amount, currency, lot_id, invoice_id)`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.account),
      rows.map((r) => r.kind),
      rows.map((r) => r.amount),
      rows.map((r) => r.currency),
      rows.map((r) => r.lot),
      rows.map((r) => r.invoice),
      at,
    ],
  );
}

/**
 * Writes an `expired` entry for what is left of every lot whose expiry is at
 * or before `at`, dated at its expiry; once per lot. The caller holds the
 * finalize lock: nothing else draws on lots meanwhile. Returns how many.
 */
export async function expireCredits(client: pg.PoolClient, at: Date): Promise<number> {
  const { rowCount } = await client.query(
    `insert into invoicing.credit_entries (id, account_id, kind, amount, currency, lot_id, at)
     select 'cr_' || replace(gen_random_uuid()::text, '-', ''), account_id, 'expired', -remaining, currency, id, expires_at
       from invoicing.credit_lots
      where expires_at <= $1 and remaining > 0
     on conflict do nothing`,
    [at],
  );
  return rowCount ?? 0;
}

/**
 * Invoices owed but below the gateway's minimum (`minimum`), not yet carried,
 * of these accounts (all when omitted), oldest first: `finalized` ones, and
 * `past_due` ones an older release left (SMALL_INVOICES).
 */
export async function smallInvoices(
  db: Db,
  accounts: readonly string[] | undefined,
  minimum: string,
): Promise<Map<string, SmallInvoice[]>> {
  const { rows } = await db.query<SmallRow>(SMALL_INVOICES, [accounts ?? null, minimum]);
  return smallOfRows(rows);
}

/** The invoice `i` has no PaymentIntent that could still be paid (SMALL_INVOICES). */
// A PaymentIntent known, or an attempt sent whose answer never came (the gateway may have made one).
const NOT_CHARGED = `not exists (select 1 from invoicing.charges c where c.invoice_id = i.id
  and (c.payment_intent_id is not null or c.pending_payment_method_id is not null))`;

/**
 * The invoice `i` is one the next finalize carries (SMALL_INVOICES): owed, its
 * total above 0 and below the gateway's minimum (`minimum`, a numeric
 * parameter such as '$2'), never charged. The one rule: the standing review
 * reads it too, so such an invoice past due never suspends its account.
 */
export const carryable = (minimum: string) =>
  `(i.status in ('finalized', 'past_due') and i.total > 0 and i.total < ${minimum}::numeric and ${NOT_CHARGED})`;

/**
 * Invoices of the accounts $1 (all when null) not charged nor carried, with a
 * total above 0 and below $2, oldest first. `past_due` too: before the
 * gateway's published minimums (2026-12-06), every currency outside nine had
 * a minimum of 1 minor unit, so a SEK 2.00 total was sent, refused
 * (amount_too_small) until past_due, and its account suspended. This release
 * never makes a small invoice past_due (decide() says below_minimum before any
 * attempt or want of a card): only such a database holds one, or one past due
 * before the minimum was raised above its total. Never charged now, it never
 * keeps its account suspended (the standing review, `carryable`), and it is
 * carried like a finalized one, its account reinstated then when nothing else
 * is past due (finalize-chunk.ts). The drafts read this same statement.
 *
 * Never one with a PaymentIntent (NOT_CHARGED): the legacy refusal came at its
 * create, so none was made, but one charged before GATEWAY_MINIMUM_CHARGE was
 * raised above its total may still be payable on the card form; carried, that
 * payment would match no invoice and the total be billed twice. Such an invoice
 * stays as it is (owed, never charged again at the raised minimum): a known
 * limit an operator settles by hand.
 */
export const SMALL_INVOICES = `
  select account_id, number, period, total::text from invoicing.invoices i
   where ${carryable('$2')}
     and ($1::text[] is null or account_id = any($1::text[]))
   order by period_start, number`;

export type SmallRow = { account_id: string; number: string; period: string; total: string };

export function smallOfRows(rows: readonly SmallRow[]): Map<string, SmallInvoice[]> {
  const out = new Map<string, SmallInvoice[]>();
  for (const r of rows) appendTo(out, r.account_id, { number: r.number, period: r.period, total: r.total });
  return out;
}

/** A small invoice a new invoice carries: its carried line's key is the small one's number. */
export interface Carry {
  /** The small invoice's number. */
  number: string;
  /** The invoice that carries it (finalized in the same transaction). */
  by: { id: string; number: string; period: string };
}

/** A small invoice now `carried`, as its invoice.carried notice describes it. */
export interface CarriedInvoice extends InvoiceFacts {
  carriedBy: Carry['by'];
  /** It was `past_due` (left by an older release): its account may be reinstated now. */
  wasPastDue: boolean;
}

/**
 * Small invoices whose total a new invoice carries: `carried` from now on
 * (never charged, never carried again), whether `finalized` or `past_due`
 * (SMALL_INVOICES). Returns each, for its notice.
 */
export async function markCarried(client: pg.PoolClient, carries: readonly Carry[]): Promise<CarriedInvoice[]> {
  if (carries.length === 0) return [];
  const by = new Map(carries.map((c) => [c.number, c.by]));
  // Locked in id order, as the standing review locks an account's past-due invoices:
  // two of one account taken in another order could deadlock with a review.
  const { rows } = await client.query<{
    id: string;
    account_id: string;
    number: string;
    period: string;
    currency: string;
    total: string;
    was: string;
  }>(
    `with small as (
       select id, status from invoicing.invoices i
        where number = any($1::text[]) and status in ('finalized', 'past_due') and ${NOT_CHARGED}
        order by id for update)
     update invoicing.invoices i set status = 'carried' from small where i.id = small.id
     returning i.id, i.account_id, i.number, i.period, i.currency, i.total::text, small.status as was`,
    [[...by.keys()]],
  );
  if (rows.length !== carries.length) throw new Error(`carried ${rows.length} of ${carries.length} small invoices: one changed meanwhile`);
  return rows.map((r) => ({
    id: r.id,
    accountId: r.account_id,
    number: r.number,
    period: r.period,
    currency: r.currency,
    total: r.total,
    status: 'carried',
    carriedBy: by.get(r.number)!,
    wasPastDue: r.was === 'past_due',
  }));
}
