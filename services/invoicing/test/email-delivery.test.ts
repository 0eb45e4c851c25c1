// The customer's emails through a real SMTP server in this process
// (smtp-server) and nodemailer: one per notice that tells them something,
// sent once even when the server first refuses it; no link or token in them;
// without SMTP_URL one log line each; without an address, skipped.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import { eventually, type TestDatabase } from '@vault/testkit';
import { sendDueEmails, smtpMailer, withoutAddresses } from '../src/email/sender.ts';
import { accountNotice, invoiceNotice, type Notice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { chargingDatabase } from './charging-fixture.ts';

/** The text as written: nodemailer sends it quoted-printable (soft breaks `=` at line ends, `=XX` bytes). */
const quotedPrintable = (text: string) =>
  Buffer.from(
    text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  )
    .toString('utf8')
    .replace(/\r\n/g, '\n');

/** The Message-ID of a notice's email: one dot-atom (hex), whatever the notice id holds. */
const idOf = (noticeId: string) => `<${createHash('sha256').update(noticeId).digest('hex').slice(0, 32)}@vault-invoicing>`;

interface Received {
  to: string;
  messageId: string;
  subject: string;
  body: string;
}

const invoice = (account: string) => ({
  id: `inv-${account}`,
  accountId: account,
  number: '2026-10-000007',
  period: '2026-10',
  currency: 'USD',
  total: '52.58',
  status: 'finalized',
});

function lifeOf(account: string): Notice[] {
  const at = new Date('2026-11-04T00:00:00Z');
  const i = invoice(account);
  return [
    invoiceNotice('invoice.finalized', i, at),
    invoiceNotice(
      'invoice.payment_failed',
      i,
      at,
      { code: 'card_declined', reason: 'Your card was declined.', next_attempt_at: '2026-11-07T00:00:00Z' },
      1,
    ),
    invoiceNotice('invoice.action_required', { ...i, status: 'action_required' }, at, { payment_intent_id: 'pi_1' }, 2),
    invoiceNotice('invoice.past_due', { ...i, status: 'past_due' }, at, { reason: 'declined' }),
    accountNotice('account.suspended', account, 1, at, { past_due_since: '2026-11-12T00:00:00Z' }),
    invoiceNotice('invoice.paid', { ...i, status: 'paid' }, at),
    accountNotice('account.reinstated', account, 1, at),
  ];
}

describe('emails to the customer through a real SMTP server', () => {
  let db: TestDatabase;
  let smtp: SMTPServer;
  let url: string;
  const received: Received[] = [];
  let refuseNext = 1;

  before(async () => {
    db = await chargingDatabase();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        let raw = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (raw += chunk));
        stream.on('end', () => {
          if (refuseNext > 0) {
            refuseNext--;
            // As servers do, the refusal quotes the recipient.
            const to = session.envelope.rcptTo.map((r) => r.address).join(',');
            return done(Object.assign(new Error(`<${to}>: try again later`), { responseCode: 451 }));
          }
          const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim() ?? '';
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address).join(','),
            messageId: header('Message-ID'),
            subject: header('Subject'),
            body: quotedPrintable(
              raw
                .split(/\r?\n\r?\n/)
                .slice(1)
                .join('\n\n'),
            ),
          });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    url = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
    await db.pool.query(`insert into invoicing.account_contacts (account_id, email) values ('acct-mail', 'billing@customer.example')`);
  });
  after(async () => {
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    await db?.drop();
  });

  test('each notice the customer is told of arrives once; the one the server first refused (451) is sent again and arrives once', async () => {
    await withTransaction(db.pool, (client) => recordNotices(client, [...lifeOf('acct-mail'), ...lifeOf('acct-mail')]));
    const log = memoryLogger();
    const deps = {
      pool: db.pool,
      log,
      mailer: smtpMailer(url),
      from: 'The Vault billing <billing@vault.invalid>',
      invoicingUrl: 'http://localhost:3000',
    };
    await eventually(
      () => `every email settled (${received.length} arrived)`,
      async () => {
        await sendDueEmails(deps);
        const { rows } = await db.pool.query(`select 1 from invoicing.email_deliveries where state = 'pending'`);
        return rows.length === 0;
      },
      20_000,
    );
    for (let pass = 0; pass < 3; pass++) await sendDueEmails(deps);
    assert.deepEqual(
      received.map((r) => r.messageId).sort(),
      [
        'account.suspended:acct-mail:1',
        'invoice.action_required:inv-acct-mail:2',
        'invoice.finalized:inv-acct-mail',
        'invoice.past_due:inv-acct-mail',
        'invoice.payment_failed:inv-acct-mail:1',
      ]
        .map(idOf)
        .sort(),
    );
    assert.ok(received.every((r) => r.to === 'billing@customer.example'));
    const { rows } = await db.pool.query<{ notice_id: string; attempts: number; state: string }>(
      `select notice_id, attempts, state from invoicing.email_deliveries order by notice_id`,
    );
    assert.ok(rows.every((r) => r.state === 'sent'));
    assert.deepEqual(
      rows.filter((r) => r.attempts > 1).map((r) => r.notice_id),
      ['invoice.finalized:inv-acct-mail'],
      'the refused one took two tries',
    );
    const failed = log.lines.filter((l) => l.includes('event=email.failed'));
    assert.ok(
      failed.some((l) => l.includes('retry_in_s=1') && l.includes('<address>') && l.includes('try again later')),
      failed.join('\n'),
    );
    assert.ok(!log.lines.some((l) => l.includes('billing@customer.example')), 'the address never reaches the log');

    const finalized = received.find((r) => r.messageId === idOf('invoice.finalized:inv-acct-mail'))!;
    assert.match(finalized.subject, /Your invoice 2026-10-000007 for October 2026: \$52\.58/);
    assert.match(finalized.body, /sign in to your invoices at http:\/\/localhost:3000\//);
    assert.match(finalized.body, /Ask your platform support for a sign-in link/);
    for (const r of received) assert.doesNotMatch(r.body, /link=|vl_|vt_|token/i, 'no sign-in link or token in an email');
    assert.match(
      received.find((r) => r.messageId === idOf('invoice.payment_failed:inv-acct-mail:1'))!.body,
      /Your card was declined\.[\s\S]*7 November 2026/,
    );
  });

  test('without an address the email is skipped (logged), never retried; without SMTP_URL each email is one log line', async () => {
    await withTransaction(db.pool, (client) => recordNotices(client, [lifeOf('acct-nobody')[0]!, lifeOf('acct-dev')[3]!]));
    const before = received.length;
    const smtpLog = memoryLogger();
    await sendDueEmails({
      pool: db.pool,
      log: smtpLog,
      mailer: smtpMailer(url),
      from: 'x@vault.invalid',
      invoicingUrl: 'http://localhost:3000',
    });
    assert.equal(received.length, before);
    assert.equal(smtpLog.lines.filter((l) => l.includes('event=email.skipped') && l.includes('reason=no_contact')).length, 2);
    const { rows } = await db.pool.query(`select state from invoicing.email_deliveries where account_id in ('acct-nobody', 'acct-dev')`);
    assert.deepEqual(
      rows.map((r) => r.state),
      ['skipped', 'skipped'],
    );

    await db.pool.query(`insert into invoicing.account_contacts (account_id, email) values ('acct-local', 'private@customer.example')`);
    await withTransaction(db.pool, (client) =>
      recordNotices(client, [invoiceNotice('invoice.finalized', invoice('acct-local'), new Date())]),
    );
    const devLog = memoryLogger();
    await sendDueEmails({ pool: db.pool, log: devLog, mailer: undefined, from: 'x@vault.invalid', invoicingUrl: 'http://localhost:3000' });
    const lines = devLog.lines.filter((l) => l.includes('event=email.logged'));
    assert.equal(lines.length, 1, devLog.lines.join('\n'));
    assert.match(lines[0]!, /notice_id=invoice\.finalized:inv-acct-local .*contact=on_file subject="Your invoice 2026-10-000007/);
    assert.ok(!devLog.lines.some((l) => l.includes('private@customer.example')), 'the address is never logged');
    assert.equal(received.length, before, 'nothing sent');
  });

  test('the Message-ID is <the first 32 hex digits of the SHA-256 of the notice id@vault-invoicing>: RFC 5322 allows no ":" there, and an account id may hold anything', async () => {
    const odd = 'acct "odd" one: <x>, (y)';
    await db.pool.query(`insert into invoicing.account_contacts (account_id, email) values ($1, 'odd@customer.example')`, [odd]);
    const notice = accountNotice('account.suspended', odd, 1, new Date(), { past_due_since: '2026-11-12T00:00:00Z' });
    await withTransaction(db.pool, (client) => recordNotices(client, [notice]));
    const before = received.length;
    await sendDueEmails({ pool: db.pool, log: memoryLogger(), mailer: smtpMailer(url), from: 'x@vault.invalid', invoicingUrl: 'http://x' });
    assert.deepEqual(
      received.slice(before).map((r) => [r.to, r.messageId]),
      [['odd@customer.example', idOf(notice.id)]],
    );
    assert.match(received.at(-1)!.messageId, /^<[0-9a-f]{32}@vault-invoicing>$/);
  });
});

describe('withoutAddresses (pure)', () => {
  test('every form of address in a server reply is replaced: plain, in brackets, a quoted local part, an address literal', () => {
    assert.equal(
      withoutAddresses('550 5.1.1 <alice@customer.example>: rejected; "john doe"@x.example, u@[192.0.2.1] and bob.smith+tag@mail.co'),
      '550 5.1.1 <<address>>: rejected; <address>, <address> and <address>',
    );
    assert.equal(withoutAddresses('451 try again later'), '451 try again later');
  });
});
