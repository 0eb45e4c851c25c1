// Cards saved before migration 007 have no fingerprint, so invoicing blocked such a card charged
// back as fraud by its payment method alone (the same stolen card typed in again was charged), and a
// block made from our card on file (invoicing's charge.card_block_unread) had none to give. This
// background pass reads each one's fingerprint from the gateway, a few cards a tick, one read at a
// time under a short timeout (readCardFingerprint). Crash-only: each read is claimed in
// `card_fingerprint_reads` (migration 008) before it is sent and its outcome written in one statement
// after, so a kill mid-pass loses nothing; the claim lapses (CLAIM_SECONDS) and the card is read again.
// The gateway lookups limit (lookups.ts) counts calls a signed-in account's requests cause; this pass
// is no account's, and spends none of theirs: its own bound (CARDS_PER_TICK every EVERY_MS) is its budget.
import type pg from 'pg';
import { type Logger, type Loop, startLoop } from '@vault/runtime';
import { GatewayUnavailable } from './gateway.ts';

/** The gateway's word on a payment method: its card's fingerprint, or `gone` (unknown to it, or no card fingerprint). */
export type FingerprintReader = (paymentMethodId: string) => Promise<{ fingerprint: string } | 'gone'>;

/** Between two ticks. */
export const EVERY_MS = 5_000;
/** Reads a tick at most (one at a time): 60 a minute, a small share of the platform's gateway rate limit. */
export const CARDS_PER_TICK = 5;
/** How long a claimed read keeps other processes (and a restart after a kill) off the card: well over one read's timeout. */
export const CLAIM_SECONDS = 60;
/** A gone payment method is asked again after this, doubled each try up to RETRY_CAP_SECONDS: keys can be fixed. */
export const GONE_RETRY_SECONDS = 3_600;
/** A read that failed (timeout, 5xx, refused key) is asked again after this, doubled each try up to RETRY_CAP_SECONDS. */
export const UNANSWERED_RETRY_SECONDS = 60;
export const RETRY_CAP_SECONDS = 7 * 86_400;

export interface BackfillDeps {
  pool: pg.Pool;
  log: Logger;
  read: FingerprintReader;
  cardsPerTick?: number;
}

export interface BackfillTally {
  filled: number;
  gone: number;
  unanswered: number;
  /** The card on file became another payment method during the read: nothing written. */
  replaced: number;
}

interface Claimed {
  account_id: string;
  payment_method_id: string;
  tries: number;
}

/**
 * Claims the next card without a fingerprint that is due a read (never read, or its retry_at passed),
 * recording the try before the read is sent. `none` when none is due; `lost` when another process
 * claimed the same card between our look and our claim (two processes ticking together pick the same one).
 */
async function claimNext(pool: pg.Pool): Promise<Claimed | 'none' | 'lost'> {
  const { rows } = await pool.query<Omit<Claimed, 'tries'> & { tries: number | null }>(
    `with candidate as (
       select c.account_id, c.payment_method_id
         from cc_forms.cards c left join cc_forms.card_fingerprint_reads r on r.payment_method_id = c.payment_method_id
        where c.fingerprint is null and (r.retry_at is null or r.retry_at <= now())
        order by r.retry_at nulls first, c.added_at, c.account_id
        limit 1
     ), claimed as (
       insert into cc_forms.card_fingerprint_reads (payment_method_id, tries, outcome, retry_at)
       select payment_method_id, 1, 'reading', now() + make_interval(secs => $1) from candidate
       on conflict (payment_method_id) do update
         set tries = card_fingerprint_reads.tries + 1, outcome = 'reading', retry_at = excluded.retry_at, read_at = now()
         where card_fingerprint_reads.retry_at <= now()
       returning payment_method_id, tries
     )
     select candidate.account_id, candidate.payment_method_id, claimed.tries from candidate left join claimed using (payment_method_id)`,
    [CLAIM_SECONDS],
  );
  const row = rows[0];
  if (!row) return 'none';
  return row.tries === null ? 'lost' : { ...row, tries: row.tries };
}

/** Compare-and-set: only while that payment method is still the account's card, and still without one. */
async function fill(pool: pg.Pool, card: Claimed, fingerprint: string): Promise<boolean> {
  const { rows } = await pool.query<{ filled: number }>(
    `with filled as (
       update cc_forms.cards set fingerprint = $3 where account_id = $1 and payment_method_id = $2 and fingerprint is null returning 1
     ), done as (
       delete from cc_forms.card_fingerprint_reads where payment_method_id = $2
     )
     select count(*)::int as filled from filled`,
    [card.account_id, card.payment_method_id, fingerprint],
  );
  return rows[0]!.filled > 0;
}

/** The read's outcome, and when to ask again: `base` doubled each try, up to RETRY_CAP_SECONDS. Returns the wait. */
async function putOff(pool: pg.Pool, card: Claimed, outcome: 'gone' | 'unanswered', base: number): Promise<number> {
  const wait = Math.min(base * 2 ** Math.min(card.tries - 1, 30), RETRY_CAP_SECONDS);
  await pool.query(
    `update cc_forms.card_fingerprint_reads set outcome = $2, retry_at = now() + make_interval(secs => $3), read_at = now()
      where payment_method_id = $1`,
    [card.payment_method_id, outcome, wait],
  );
  return wait;
}

/**
 * One tick: up to `cardsPerTick` cards read, one at a time, stopping early when the app stops or the
 * gateway fails (the next tick tries again, another card first). Logs each card and, when it did
 * anything, the tick's counts and how many cards are left without a fingerprint.
 */
export async function backfillFingerprints(
  deps: BackfillDeps,
  running: { stopped(): boolean } = { stopped: () => false },
): Promise<BackfillTally> {
  const tally: BackfillTally = { filled: 0, gone: 0, unanswered: 0, replaced: 0 };
  // Attempts of payment methods no longer on file without a fingerprint (replaced, filled) are done with.
  await deps.pool.query(
    `delete from cc_forms.card_fingerprint_reads r
      where not exists (select 1 from cc_forms.cards c where c.payment_method_id = r.payment_method_id and c.fingerprint is null)`,
  );
  for (let n = 0; n < (deps.cardsPerTick ?? CARDS_PER_TICK) && !running.stopped(); n++) {
    const card = await claimNext(deps.pool);
    if (card === 'none') break;
    // The other process reads that one: this one goes on with the next (a lost claim spends one of the tick's reads).
    if (card === 'lost') continue;
    const fields = { account_id: card.account_id, payment_method: card.payment_method_id, tries: card.tries };
    let read: Awaited<ReturnType<FingerprintReader>>;
    try {
      read = await deps.read(card.payment_method_id);
    } catch (err) {
      tally.unanswered++;
      const wait = await putOff(deps.pool, card, 'unanswered', UNANSWERED_RETRY_SECONDS);
      const gateway =
        err instanceof GatewayUnavailable ? { error_class: err.errorClass, code: err.code ?? 'none', ...err.unreachable } : {};
      deps.log.warn('cards.fingerprint_unread', { ...fields, ...gateway, retry_in_s: wait });
      // The gateway is failing: the rest wait for the next tick rather than each waiting out a timeout now.
      if (err instanceof GatewayUnavailable) break;
      throw err;
    }
    if (read === 'gone') {
      tally.gone++;
      const wait = await putOff(deps.pool, card, 'gone', GONE_RETRY_SECONDS);
      deps.log.warn('cards.fingerprint_gone', { ...fields, retry_in_s: wait });
    } else if (await fill(deps.pool, card, read.fingerprint)) {
      tally.filled++;
      deps.log.info('cards.fingerprint_filled', fields);
    } else {
      // Replaced while the gateway answered: the old card's fingerprint is not the new card's.
      tally.replaced++;
      deps.log.info('cards.fingerprint_replaced', fields);
    }
  }
  // The counts once per tick (a drain sums count#), only for a tick that did something: not every 5 s for ever.
  if (tally.filled + tally.gone + tally.unanswered + tally.replaced > 0) {
    const { rows } = await deps.pool.query<{ left: number }>('select count(*)::int as left from cc_forms.cards where fingerprint is null');
    deps.log.info('cards.fingerprint_backfill', {
      'count#cards.fingerprints_filled': tally.filled,
      'count#cards.fingerprints_gone': tally.gone,
      'count#cards.fingerprints_unread': tally.unanswered,
      'count#cards.fingerprints_replaced': tally.replaced,
      left: rows[0]!.left,
    });
  }
  return tally;
}

/** The pass as the app runs it (main.ts): a tick every EVERY_MS from boot; stop() lets the read in flight end. */
export function startFingerprintBackfill(deps: BackfillDeps, options: { everyMs?: number } = {}): Loop {
  return startLoop({
    everyMs: options.everyMs ?? EVERY_MS,
    tick: async (running) => {
      await backfillFingerprints(deps, running);
    },
    onError: (err) => deps.log.error('cards.fingerprint_backfill_failed', err),
  });
}
