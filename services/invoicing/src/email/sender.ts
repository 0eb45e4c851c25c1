// Sends the customers' emails (`invoicing.email_deliveries`, one per notice,
// written with it): through SMTP_URL with nodemailer, or, unset, as one log
// line each. An SMTP failure leaves the email pending, tried again after a
// wait that doubles (1 s, 2 s, … up to an hour). An email is marked sent once
// the server took it; a kill between the two sends it again, with the same
// Message-ID (the notice's), which lets a mail system drop the copy.
import type pg from 'pg';
import nodemailer from 'nodemailer';
import { withSessionLock } from '@vault/db';
import { startLoop, type Loop, type Logger } from '@vault/runtime';
import type { NoticeEvent } from '../notices/notice.ts';
import { emailFor, type EmailContext } from './messages.ts';

export interface Email {
  to: string;
  from: string;
  subject: string;
  text: string;
  /** `<notice id@vault-invoicing>`: the same at every try. */
  messageId: string;
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

interface Due {
  notice_id: string;
  account_id: string;
  attempts: number;
  event: NoticeEvent;
  email: string | null;
}

/** One pass over the emails due now; how many were settled (sent, logged or skipped). */
export function sendDueEmails(deps: SenderDeps): Promise<{ settled: number; failed: number }> {
  return withSessionLock(deps.pool, SEND_LOCK, async () => {
    const { rows } = await deps.pool.query<Due>(
      `select d.notice_id, d.account_id, d.attempts, n.event, k.email
         from invoicing.email_deliveries d
         join invoicing.notices n on n.id = d.notice_id
         left join invoicing.account_contacts k on k.account_id = d.account_id
        where d.state = 'pending' and d.next_attempt_at <= now()
        order by n.seq limit $1`,
      [BATCH],
    );
    let settled = 0;
    let failed = 0;
    for (const due of rows) {
      if (await sendOne(deps, due)) settled++;
      else failed++;
    }
    return { settled, failed };
  });
}

async function sendOne(deps: SenderDeps, due: Due): Promise<boolean> {
  const fields = { notice_id: due.notice_id, type: due.event.type, account_id: due.account_id };
  const text = emailFor(due.event, deps);
  if (!text) return settle(deps.pool, due, 'skipped', null);
  if (!deps.mailer) {
    // Development: the email as one line; it holds no link or token, nor the customer's address
    // (contacts never reach the logs): only whether there is one.
    deps.log.info('email.logged', { ...fields, contact: due.email ? 'on_file' : 'none', subject: text.subject, 'count#emails.logged': 1 });
    return settle(deps.pool, due, 'logged', due.email);
  }
  if (!due.email) {
    deps.log.warn('email.skipped', { ...fields, reason: 'no_contact', 'count#emails.skipped': 1 });
    return settle(deps.pool, due, 'skipped', null);
  }
  try {
    await deps.mailer.send({ to: due.email, from: deps.from, ...text, messageId: `<${due.notice_id}@vault-invoicing>` });
  } catch (err) {
    const wait = Math.min(2 ** due.attempts, MAX_WAIT_S);
    await deps.pool.query(
      `update invoicing.email_deliveries
          set attempts = attempts + 1, last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
        where notice_id = $1 and state = 'pending'`,
      [due.notice_id, (err as Error).message.slice(0, 500), wait],
    );
    deps.log.warn('email.failed', {
      ...fields,
      attempt: due.attempts + 1,
      retry_in_s: wait,
      // A server's reply may quote the recipient ("550 <alice@…>: rejected"): addresses never reach the logs.
      error: withoutAddresses((err as Error).message),
      'count#emails.failed': 1,
    });
    return false;
  }
  deps.log.info('email.sent', { ...fields, attempt: due.attempts + 1, 'count#emails.sent': 1 });
  return settle(deps.pool, due, 'sent', due.email);
}

/** The text with every email address in it replaced by `<address>`. */
export function withoutAddresses(text: string): string {
  // A local part plain or quoted ("john doe"@…), a domain plain or an address literal (…@[192.0.2.1]).
  return text.replace(/(?:"[^"]*"|[^\s<>"'(),;:[\]]+)@(?:\[[^\]]*\]|[^\s<>"'(),;:[\]]+)/g, '<address>');
}

async function settle(pool: pg.Pool, due: Due, state: 'sent' | 'logged' | 'skipped', to: string | null): Promise<true> {
  await pool.query(
    `update invoicing.email_deliveries set state = $2, sent_to = $3, attempts = attempts + 1, done_at = now(), last_error = null
      where notice_id = $1 and state = 'pending'`,
    [due.notice_id, state, to],
  );
  return true;
}

/** The sender's loop: every second, what is due. */
export function startEmailSender(deps: SenderDeps & { everyMs?: number }): Loop {
  return startLoop({
    everyMs: deps.everyMs ?? 1_000,
    async tick() {
      const { settled } = await sendDueEmails(deps);
      return settled === BATCH;
    },
    onError: (err) => deps.log.error('email.pass_failed', err),
  });
}
