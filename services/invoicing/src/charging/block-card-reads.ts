// A fraud block without its card's fingerprint took it only from cc-forms' cards on file
// (block-fingerprints.ts). But a blocked card is refused at charge, so its customer replaces it: the
// payment method leaves the file, the block never got a fingerprint, and the same stolen card typed
// in again (a new payment method, the same fingerprint) was saved and charged. The gateway still
// answers for a payment method that was replaced or detached (Stripe keeps it), so each charging pass
// asks it for the few blocks still without one (READS_PER_PASS, one at a time, each bounded by
// READ_TIMEOUT_MS with no retry: a pass is never held by it). Crash-only: each read is claimed in
// block_fingerprint_reads (migration 036) before it is sent and its outcome written after, so a kill
// mid-read costs the claim's wait (CLAIM_SECONDS); a payment method gone, or a read that failed, is
// asked again later, longer each try, never at every pass.
import type pg from 'pg';
import type { Gateway } from '@vault/gateway';
import { Stripe } from '@vault/gateway';
import type { Logger } from '@vault/runtime';

/** The gateway's word on a payment method: its card's fingerprint, `gone` (unknown to it, or no card fingerprint), or no answer. */
export type BlockCardRead = { fingerprint: string } | 'gone' | { error: string };

/** Reads a pass at most, one at a time. */
export const READS_PER_PASS = 5;
/** One read's bound: the pass waits on it. */
export const READ_TIMEOUT_MS = 5_000;
/** How long a claimed read keeps a later pass (after a kill) off the block: well over one read's timeout. */
export const CLAIM_SECONDS = 60;
/** A gone payment method is asked again after this, doubled each try up to RETRY_CAP_SECONDS (keys can be fixed). */
export const GONE_RETRY_SECONDS = 3_600;
/** A read that failed (timeout, 5xx, a key refused) is asked again after this, doubled each try up to RETRY_CAP_SECONDS. */
export const UNANSWERED_RETRY_SECONDS = 60;
export const RETRY_CAP_SECONDS = 7 * 86_400;

/** The SDK's read of a payment method, detached or not: one try, bounded. */
export async function readBlockedCard(stripe: Gateway, paymentMethodId: string): Promise<BlockCardRead> {
  try {
    const pm = await stripe.paymentMethods.retrieve(paymentMethodId, {}, { timeout: READ_TIMEOUT_MS, maxNetworkRetries: 0 });
    return pm.card?.fingerprint ? { fingerprint: pm.card.fingerprint } : 'gone';
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    if (err.statusCode === 404 || err.code === 'resource_missing') return 'gone';
    const code = err.code ?? err.type;
    return { error: err.statusCode ? `${code} (HTTP ${err.statusCode})` : code };
  }
}

interface Claimed {
  payment_method_id: string;
  account_id: string;
  dispute_id: string;
  tries: number | null;
}

/**
 * The next block without a fingerprint due a read (never read, or its retry_at passed), claimed: the try
 * recorded before the read is sent. `none`: nothing due; tries null: another process claimed it first.
 */
async function claimNext(pool: pg.Pool): Promise<Claimed | 'none'> {
  const { rows } = await pool.query<Claimed>(
    `with candidate as (
       select b.payment_method_id, b.account_id, b.dispute_id
         from invoicing.blocked_payment_methods b
         left join invoicing.block_fingerprint_reads r on r.payment_method_id = b.payment_method_id
        where b.fingerprint is null and (r.retry_at is null or r.retry_at <= now())
        order by r.retry_at nulls first, b.blocked_at, b.payment_method_id
        limit 1
     ), claimed as (
       insert into invoicing.block_fingerprint_reads (payment_method_id, tries, outcome, retry_at)
       select payment_method_id, 1, 'reading', now() + make_interval(secs => $1) from candidate
       on conflict (payment_method_id) do update
         set tries = block_fingerprint_reads.tries + 1, outcome = 'reading', retry_at = excluded.retry_at, read_at = now()
         where block_fingerprint_reads.retry_at <= now()
       returning payment_method_id, tries
     )
     select candidate.payment_method_id, candidate.account_id, candidate.dispute_id, claimed.tries
       from candidate left join claimed using (payment_method_id)`,
    [CLAIM_SECONDS],
  );
  return rows[0] ?? 'none';
}

/** The block gets the fingerprint (only while it has none: written once) and its reads are done with; whether it was filled. */
async function fill(pool: pg.Pool, paymentMethodId: string, fingerprint: string): Promise<boolean> {
  const { rows } = await pool.query<{ filled: number }>(
    `with filled as (
       update invoicing.blocked_payment_methods set fingerprint = $2 where payment_method_id = $1 and fingerprint is null returning 1
     ), done as (
       delete from invoicing.block_fingerprint_reads where payment_method_id = $1
     )
     select count(*)::int as filled from filled`,
    [paymentMethodId, fingerprint],
  );
  return rows[0]!.filled > 0;
}

/** The read's outcome, and when to ask again: `base` doubled each try, up to RETRY_CAP_SECONDS. Returns the wait. */
async function putOff(pool: pg.Pool, paymentMethodId: string, tries: number, outcome: 'gone' | 'unanswered', base: number) {
  const wait = Math.min(base * 2 ** Math.min(tries - 1, 30), RETRY_CAP_SECONDS);
  await pool.query(
    `update invoicing.block_fingerprint_reads set outcome = $2, retry_at = now() + make_interval(secs => $3), read_at = now()
      where payment_method_id = $1`,
    [paymentMethodId, outcome, wait],
  );
  return wait;
}

/** A block given its fingerprint from the gateway. */
export interface ReadFill {
  paymentMethodId: string;
  fingerprint: string;
  accountId: string;
  disputeId: string;
}

/**
 * Up to `readsPerPass` blocks without a fingerprint read from the gateway, one at a time, stopping at
 * the first read the gateway does not answer (the rest wait for the next pass). The blocks filled.
 */
export async function readBlockFingerprints(deps: {
  pool: pg.Pool;
  log: Logger;
  read: (paymentMethodId: string) => Promise<BlockCardRead>;
  readsPerPass?: number | undefined;
}): Promise<ReadFill[]> {
  const filled: ReadFill[] = [];
  // Reads of blocks filled since (by cc-forms' view) or lifted are done with.
  await deps.pool.query(
    `delete from invoicing.block_fingerprint_reads r
      where not exists (select 1 from invoicing.blocked_payment_methods b where b.payment_method_id = r.payment_method_id and b.fingerprint is null)`,
  );
  for (let n = 0; n < (deps.readsPerPass ?? READS_PER_PASS); n++) {
    const block = await claimNext(deps.pool);
    if (block === 'none') break;
    // Another process took this one between our look and our claim: the next is looked for.
    if (block.tries === null) continue;
    const fields = {
      payment_method: block.payment_method_id,
      account_id: block.account_id,
      dispute_id: block.dispute_id,
      tries: block.tries,
    };
    const read = await deps.read(block.payment_method_id);
    if (read === 'gone') {
      const wait = await putOff(deps.pool, block.payment_method_id, block.tries, 'gone', GONE_RETRY_SECONDS);
      deps.log.warn('charge.block_fingerprint_gone', { ...fields, retry_in_s: wait, 'count#charge.block_fingerprints_gone': 1 });
    } else if ('error' in read) {
      const wait = await putOff(deps.pool, block.payment_method_id, block.tries, 'unanswered', UNANSWERED_RETRY_SECONDS);
      deps.log.warn('charge.block_fingerprint_unread', { ...fields, code: read.error, retry_in_s: wait });
      break;
    } else if (await fill(deps.pool, block.payment_method_id, read.fingerprint)) {
      filled.push({
        paymentMethodId: block.payment_method_id,
        fingerprint: read.fingerprint,
        accountId: block.account_id,
        disputeId: block.dispute_id,
      });
    }
  }
  return filled;
}
