// The notices' outbox (`invoicing.notices`): written in the caller's
// transaction, beside the change a notice tells, so a notice exists exactly
// when its change committed. Read in order by GET /v1/notices and by the
// publisher, after the sequencer has given each committed notice its position.
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { EMAILED_TYPES, type Notice, type NoticeEvent } from './notice.ts';

type Db = pg.Pool | pg.PoolClient;

/**
 * Records notices in the caller's transaction (after its invoice locks: the
 * one lock order), with the email of those the customer is told about. A
 * notice whose id is recorded already is left as it was.
 */
export async function recordNotices(client: pg.PoolClient, notices: readonly Notice[]): Promise<void> {
  for (let i = 0; i < notices.length; i += CHUNK) await insertNotices(client, notices.slice(i, i + CHUNK));
}

// A month's invoices at scale: a few statements, each of bounded size.
const CHUNK = 10_000;

async function insertNotices(client: pg.PoolClient, notices: readonly Notice[]): Promise<void> {
  await client.query(
    `with recorded as (
       insert into invoicing.notices (id, type, account_id, event)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::json[])
       on conflict (id) do nothing
       returning id, type, account_id)
     insert into invoicing.email_deliveries (notice_id, account_id)
     select id, account_id from recorded where type = any($5::text[])`,
    [
      notices.map((n) => n.id),
      notices.map((n) => n.type),
      notices.map((n) => n.accountId),
      notices.map((n) => JSON.stringify(n.event)),
      EMAILED_TYPES,
    ],
  );
}

/** One notice, in the caller's transaction (see recordNotices). */
export function recordNotice(client: pg.PoolClient, notice: Notice): Promise<void> {
  return recordNotices(client, [notice]);
}

/** The part of a new invoice its invoice.finalized notice tells (finalize's NewInvoice has it). */
export interface FinalizedInvoice {
  id: string;
  account_id: string;
  number: string;
  currency: string;
  total: string;
}

// One sequencer at a time (any process): positions then follow commit order.
const SEQUENCER_LOCK = 0x76_6e_73_71; // "vnsq"
const SEQUENCE_BATCH = 10_000;

/**
 * Gives the committed notices that have none a position, after every
 * position given before. A notice is numbered only once it is visible, and
 * the numbering runs under a lock held until commit, so positions become
 * visible in increasing order: a reader's cursor never passes a notice that
 * shows up later.
 */
export async function sequenceNotices(pool: pg.Pool): Promise<number> {
  const pending = await pool.query('select 1 from invoicing.notices where position is null limit 1');
  if (pending.rowCount === 0) return 0;
  return withTransaction(
    pool,
    async (client) => {
      await client.query('select pg_advisory_xact_lock($1)', [SEQUENCER_LOCK]);
      const { rowCount } = await client.query(
        `update invoicing.notices n set position = b.base + t.rn
           from (select seq, row_number() over (order by seq) as rn
                   from (select seq from invoicing.notices where position is null order by seq limit $1) s) t,
                (select coalesce(max(position), 0) as base from invoicing.notices) b
          where n.seq = t.seq`,
        [SEQUENCE_BATCH],
      );
      return rowCount ?? 0;
    },
    { name: 'notices.sequence' },
  );
}

/** A cursor of GET /v1/notices: the position of the last notice read ("0": none yet). */
export const NOTICE_CURSOR = /^(0|[1-9]\d{0,17})$/;

export interface NoticePage {
  notices: NoticeEvent[];
  /** The position of the last notice of the page; null when the page is empty (ask again with the same cursor). */
  next_after: string | null;
}

/**
 * A cursor past the newest position: positions are never taken back (notices are never deleted,
 * and are numbered without gaps), so no page ever handed it out. It comes from another database
 * (a restore, another environment), and an empty page would tell its reader "nothing new" while
 * the notices numbered up to it are never read.
 */
export class CursorAheadError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly after: string,
    readonly newest: string,
  ) {
    super(`no notice has position ${after}: the newest is ${newest}, so this cursor was not given by this service's pages`);
  }
}

/** Up to `limit` notices after `after`, oldest first (sequencing what committed since first). */
export async function readNotices(pool: pg.Pool, after: string, limit: number): Promise<NoticePage> {
  await sequenceNotices(pool);
  // The text column is `pos`: under its own name, `order by position` would sort the text ("10" before "2") and the
  // cursor would skip notices for good.
  const { rows } = await pool.query<{ event: NoticeEvent; pos: string }>(
    `select event, position::text as pos from invoicing.notices where position > $1::bigint order by position limit $2`,
    [after, limit],
  );
  if (rows.length === 0 && after !== '0') {
    const newest = await pool.query<{ newest: string }>('select coalesce(max(position), 0)::text as newest from invoicing.notices');
    if (BigInt(after) > BigInt(newest.rows[0]!.newest)) throw new CursorAheadError(after, newest.rows[0]!.newest);
  }
  return { notices: rows.map((r) => r.event), next_after: rows.at(-1)?.pos ?? null };
}

/** Every notice of an account, oldest first (tests, the account read). */
export async function noticesOf(db: Db, accountId: string): Promise<NoticeEvent[]> {
  const { rows } = await db.query<{ event: NoticeEvent }>('select event from invoicing.notices where account_id = $1 order by seq', [
    accountId,
  ]);
  return rows.map((r) => r.event);
}
