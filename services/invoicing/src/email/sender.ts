// Sends the customers' emails (`invoicing.email_deliveries`, one per notice,
// written with it): through SMTP_URL with nodemailer, or, unset, as one log
// line each. An SMTP failure leaves the email pending, tried again after a
// wait that doubles (1 s, 2 s, … up to an hour), for up to 5 days from when it
// was written (an MTA's queue lifetime), then ends `failed`; a permanent refusal
// of it (a 5xx to its recipient or to the message) ends it `failed` at once. An email is marked
// sent once the server took it; a kill between the two sends it again, with the
// same Message-ID (from the notice's id), which lets a mail system drop the copy.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import nodemailer from 'nodemailer';
import { PLAIN_EMAIL_ADDRESS } from '@vault/contracts';
import { LOOP_LOCK_WAIT_MS, LockBusy, withSessionLock } from '@vault/db';
import { startLoop, type Loop, type Logger } from '@vault/runtime';
import type { NoticeEvent } from '../notices/notice.ts';
import { emailFor, type EmailContext } from './messages.ts';

export interface Email {
  to: string;
  from: string;
  subject: string;
  text: string;
  /** `messageIdOf(notice id)`: the same at every try. */
  messageId: string;
}

/**
 * `<the notice id's SHA-256, its first 32 hex digits@vault-invoicing>`. RFC 5322's id-left is a
 * dot-atom, and a notice id holds `:` and whatever its account's id holds (spaces broke the
 * header). 128 bits tell notices apart; all 64 digits would fold the header past 78 characters.
 */
export function messageIdOf(noticeId: string): string {
  return `<${createHash('sha256').update(noticeId).digest('hex').slice(0, 32)}@vault-invoicing>`;
}

/** Where emails go; tests may put anything with this shape in its place. */
export interface Mailer {
  send(email: Email): Promise<void>;
}

/** The SMTP server of `url` (smtp:// or smtps://), through nodemailer, with timeouts a stuck server cannot outlast. */
export function smtpMailer(url: string): Mailer {
  const transport = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  return {
    async send(email) {
      await transport.sendMail(email);
    },
  };
}

export interface SenderDeps extends EmailContext {
  pool: pg.Pool;
  log: Logger;
  /** Unset: development, each email is logged instead. */
  mailer: Mailer | undefined;
  from: string;
}

// One sender at a time across processes: two would send each email twice.
const SEND_LOCK = 0x76_6d_61_6c; // "vmal"
const BATCH = 50;
const MAX_WAIT_S = 3600;
/** A failure after an email has waited this long ends it: news of a month ago helps nobody, and retries must end. */
const GIVE_UP_AFTER_DAYS = 5;

interface Due {
  notice_id: string;
  account_id: string;
  attempts: number;
  event: NoticeEvent;
  /** Written more than GIVE_UP_AFTER_DAYS ago: its next failure after a first try is its last. */
  overdue: boolean;
}

/**
 * The next emails due ($1 of them), oldest due first, those of one transaction in the order
 * written: walks the index of pending emails (migration 020), never the notices.
 */
export const PICK_DUE_EMAILS = `
  select d.notice_id, d.account_id, d.attempts, n.event,
         d.created_at <= now() - make_interval(days => ${GIVE_UP_AFTER_DAYS}) as overdue
    from invoicing.email_deliveries d
    join invoicing.notices n on n.id = d.notice_id
   where d.state = 'pending' and d.next_attempt_at <= now()
   order by d.next_attempt_at, d.seq limit $1`;

/**
 * One pass over the emails due now; how many were settled (sent, logged, skipped or failed).
 * `running.stopped()` true (the process stopping) ends the pass before the next email. Another
 * sender's pass running longer than `lockWaitMs`: a SessionLockTimeoutError.
 */
export function sendDueEmails(
  deps: SenderDeps,
  running?: { stopped(): boolean },
  lockWaitMs = LOOP_LOCK_WAIT_MS,
): Promise<{ settled: number; failed: number }> {
  return withSessionLock(
    deps.pool,
    SEND_LOCK,
    async () => {
      const { rows } = await deps.pool.query<Due>(PICK_DUE_EMAILS, [BATCH]);
      let settled = 0;
      let failed = 0;
      for (const due of rows) {
        // A batch can take minutes of timeouts: a SIGTERM meanwhile waits for the email being sent, not for the rest.
        if (running?.stopped()) break;
        if (await sendOne(deps, due)) settled++;
        else failed++;
      }
      return { settled, failed };
    },
    { waitMs: lockWaitMs },
  );
}

async function sendOne(deps: SenderDeps, due: Due): Promise<boolean> {
  const fields = { notice_id: due.notice_id, type: due.event.type, account_id: due.account_id };
  const text = emailFor(due.event, deps);
  if (!text) return settle(deps.pool, due, 'skipped', null);
  // Read right before sending, not with the batch: an address corrected meanwhile is the one to use.
  const { rows } = await deps.pool.query<{ email: string }>('select email from invoicing.account_contacts where account_id = $1', [
    due.account_id,
  ]);
  const email = rows[0]?.email ?? null;
  if (!deps.mailer) {
    // Development: the email as one line; it holds no link or token, nor the customer's address
    // (contacts never reach the logs): only whether there is one.
    deps.log.info('email.logged', { ...fields, contact: email ? 'on_file' : 'none', subject: text.subject, 'count#emails.logged': 1 });
    return settle(deps.pool, due, 'logged', email);
  }
  // A contact stored before the route took plain addresses only may be a list or a name (`x<victim@…>`).
  const reason = !email ? 'no_contact' : PLAIN_EMAIL_ADDRESS.test(email) ? undefined : 'bad_contact';
  if (!email || reason) {
    deps.log.warn('email.skipped', { ...fields, reason, 'count#emails.skipped': 1 });
    return settle(deps.pool, due, 'skipped', null);
  }
  try {
    await deps.mailer.send({ to: email, from: deps.from, ...text, messageId: messageIdOf(due.notice_id) });
  } catch (err) {
    const message = (err as Error).message;
    const code = permanentRefusal(err);
    if (code !== undefined) {
      deps.log.warn('email.refused', {
        ...fields,
        attempt: due.attempts + 1,
        code,
        error: withoutAddresses(message),
        'count#emails.refused': 1,
      });
      return settle(deps.pool, due, 'failed', email, message.slice(0, 500));
    }
    // Its first try is never its last: one that comes late (the sender was down) meets a
    // greylisting 4xx as often as not, and goes again a second later.
    if (due.overdue && due.attempts > 0) {
      deps.log.warn('email.expired', {
        ...fields,
        attempt: due.attempts + 1,
        error: withoutAddresses(message),
        'count#emails.expired': 1,
      });
      return settle(deps.pool, due, 'failed', email, `gave up after ${GIVE_UP_AFTER_DAYS} days: ${message}`.slice(0, 500));
    }
    const wait = Math.min(2 ** due.attempts, MAX_WAIT_S);
    await deps.pool.query(
      `update invoicing.email_deliveries
          set attempts = attempts + 1, last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
        where notice_id = $1 and state = 'pending'`,
      [due.notice_id, message.slice(0, 500), wait],
    );
    deps.log.warn('email.failed', {
      ...fields,
      attempt: due.attempts + 1,
      retry_in_s: wait,
      // A server's reply may quote the recipient ("550 <alice@…>: rejected"): addresses never reach the logs.
      error: withoutAddresses(message),
      'count#emails.failed': 1,
    });
    return false;
  }
  deps.log.info('email.sent', { ...fields, attempt: due.attempts + 1, 'count#emails.sent': 1 });
  return settle(deps.pool, due, 'sent', email);
}

/**
 * The reply code of a refusal that sending again would meet again, else undefined: a 5xx to
 * RCPT TO or to the message whose enhanced status code (RFC 3463) is about this recipient's
 * address (5.1.x but 5.1.7/5.1.8, the sender's: no such mailbox or domain, a bad address) or
 * this message (5.3.4: too big).
 * Other 5xx replies there are often about our own setup and would end every email: relay
 * denied (5.7.1), an unverified EMAIL_FROM, a sending quota (5.4.5), a blocklisted address,
 * or no enhanced code at all. They are retried, as 4xx replies and network errors are, for
 * up to GIVE_UP_AFTER_DAYS.
 */
function permanentRefusal(err: unknown): number | undefined {
  const { responseCode: code, command, response } = (err ?? {}) as { responseCode?: unknown; command?: unknown; response?: unknown };
  if (typeof code !== 'number' || code < 500 || code > 599) return undefined;
  if (command !== 'RCPT TO' && command !== 'DATA') return undefined;
  const enhanced = typeof response === 'string' ? /^\d{3}[ -](5\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1] : undefined;
  // 5.1.7 and 5.1.8 are the sender's address (EMAIL_FROM), which Postfix reports at RCPT TO.
  return enhanced && ((/^5\.1\./.test(enhanced) && !/^5\.1\.[78]$/.test(enhanced)) || enhanced === '5.3.4') ? code : undefined;
}

/** The text with every email address in it replaced by `<address>`. */
export function withoutAddresses(text: string): string {
  // A local part plain or quoted ("john doe"@…), a domain plain or an address literal (…@[192.0.2.1]).
  return text.replace(/(?:"[^"]*"|[^\s<>"'(),;:[\]]+)@(?:\[[^\]]*\]|[^\s<>"'(),;:[\]]+)/g, '<address>');
}

async function settle(
  pool: pg.Pool,
  due: Due,
  state: 'sent' | 'logged' | 'skipped' | 'failed',
  to: string | null,
  error: string | null = null,
): Promise<true> {
  await pool.query(
    `update invoicing.email_deliveries set state = $2, sent_to = $3, attempts = attempts + 1, done_at = now(), last_error = $4
      where notice_id = $1 and state = 'pending'`,
    [due.notice_id, state, to, error],
  );
  return true;
}

/** The sender's loop: every second, what is due. */
export function startEmailSender(deps: SenderDeps & { everyMs?: number; lockWaitMs?: number }): Loop {
  // Another sender's pass running (another replica): said at info, tried again next tick.
  const busy = new LockBusy(deps.log, 'email.pass_skipped');
  return startLoop({
    everyMs: deps.everyMs ?? 1_000,
    async tick(running) {
      const sent = await busy.run(() => sendDueEmails(deps, running, deps.lockWaitMs));
      return sent?.settled === BATCH;
    },
    onError: (err) => deps.log.error('email.pass_failed', err),
  });
}
