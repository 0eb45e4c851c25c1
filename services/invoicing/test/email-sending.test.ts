// The sender's review through a real SMTP server in this process (smtp-server):
// a permanent refusal (550) ends an email `failed` after one try; the contact
// is read right before each email; a stop ends a pass between two emails; a
// stored contact that is a list or a name is not sent to; the pick of due
// emails walks the pending ones, never the notices.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { AccountContactRequest } from '@vault/contracts';
import { withTransaction } from '@vault/db';
import { memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { PICK_DUE_EMAILS, sendDueEmails, smtpMailer, startEmailSender } from '../src/email/sender.ts';
import { invoiceNotice } from '../src/notices/notice.ts';
import { recordNotices } from '../src/notices/outbox.ts';
import { chargingDatabase } from './charging-fixture.ts';

const at = new Date('2026-11-04T00:00:00Z');
const invoice = (account: string, n = 1) => ({
  id: `inv-${account}-${n}`,
  accountId: account,
  number: `2026-10-00000${n}`,
  period: '2026-10',
  currency: 'USD',
  total: '52.58',
  status: 'finalized',
});
/** `count` invoice.finalized notices of the account, with their emails, in one transaction. */
const finalized = (db: TestDatabase, account: string, count: number) =>
  withTransaction(db.pool, (client) =>
    recordNotices(
      client,
      Array.from({ length: count }, (_, i) => invoiceNotice('invoice.finalized', invoice(account, i + 1), at)),
    ),
  );
const rowsOf = async (db: TestDatabase, account: string) =>
  (
    await db.pool.query<{ notice_id: string; state: string; attempts: number; sent_to: string | null; last_error: string | null }>(
      `select notice_id, state, attempts, sent_to, last_error from invoicing.email_deliveries where account_id = $1 order by seq`,
      [account],
    )
  ).rows;

describe('the email sender through a real SMTP server: refusals, contacts, stops', () => {
  let db: TestDatabase;
  let smtp: SMTPServer;
  let url: string;
  const received: { to: string }[] = [];
  /** Called as each message arrives, before the server answers it. */
  let onMessage: ((to: string) => Promise<void> | void) | undefined;
  const deps = () => ({
    pool: db.pool,
    log: memoryLogger(),
    mailer: smtpMailer(url),
    from: 'billing@vault.invalid',
    invoicingUrl: 'http://localhost:3000',
  });
  const contact = (account: string, email: string) =>
    db.pool.query(
      `insert into invoicing.account_contacts (account_id, email) values ($1, $2)
       on conflict (account_id) do update set email = excluded.email`,
      [account, email],
    );

  before(async () => {
    db = await chargingDatabase();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, done) {
        // As servers do, the refusal quotes the recipient.
        if (address.address.startsWith('nobody@')) {
          return done(Object.assign(new Error(`5.1.1 <${address.address}>: no such user`), { responseCode: 550 }));
        }
        // Our own setup's fault, not the recipient's: every email would meet it until it is fixed.
        if (address.address.startsWith('relayed@')) {
          return done(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }));
        }
        // Postfix rejects a bad sender (EMAIL_FROM) at RCPT TO, with the sender's code.
        if (address.address.startsWith('sender-refused@')) {
          return done(Object.assign(new Error('5.1.8 <billing@vault.invalid>: Sender address rejected'), { responseCode: 550 }));
        }
        done();
      },
      onData(stream, session, done) {
        stream.resume();
        stream.on('end', () => {
          const to = session.envelope.rcptTo.map((r) => r.address).join(',');
          received.push({ to });
          Promise.resolve(onMessage?.(to)).then(() => done(), done);
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    url = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    await db?.drop();
  });

  test('a permanent refusal (550 5.1.1 no such user) ends the email failed after one try, never sent again; the address is not logged', async () => {
    await contact('acct-gone', 'nobody@customer.example');
    await finalized(db, 'acct-gone', 1);
    const d = deps();
    await sendDueEmails(d);
    // Were it retried, it would be due again in 1 s.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await sendDueEmails(d);
    const [row] = await rowsOf(db, 'acct-gone');
    assert.equal(row?.state, 'failed', JSON.stringify(row));
    assert.equal(row.attempts, 1);
    assert.equal(row.sent_to, 'nobody@customer.example');
    assert.match(row.last_error ?? '', /550 5\.1\.1/);
    const refused = d.log.lines.filter((l) => l.includes('event=email.refused'));
    assert.equal(refused.length, 1, d.log.lines.join('\n'));
    assert.match(refused[0]!, /code=550 .*error=.*<address>.*count#emails\.refused=1/);
    assert.ok(!d.log.lines.some((l) => l.includes('nobody@customer.example')), 'the address never reaches the log');
    assert.ok(!d.log.lines.some((l) => l.includes('event=email.failed')), 'not a failure to retry');
  });

  test('a 5xx that is about our own setup (554 5.7.1 relay access denied, 550 5.1.8 sender rejected) is retried like a 4xx, not ended at once', async () => {
    await contact('acct-relay', 'relayed@customer.example');
    await finalized(db, 'acct-relay', 1);
    await contact('acct-sender', 'sender-refused@customer.example');
    await finalized(db, 'acct-sender', 1);
    const d = deps();
    await sendDueEmails(d);
    const [row] = await rowsOf(db, 'acct-relay');
    assert.deepEqual([row?.state, row?.attempts], ['pending', 1], JSON.stringify(row));
    assert.match(row!.last_error ?? '', /554 5\.7\.1/);
    const [sender] = await rowsOf(db, 'acct-sender');
    assert.deepEqual([sender?.state, sender?.attempts], ['pending', 1], JSON.stringify(sender));
    assert.ok(
      d.log.lines.some((l) => l.includes('event=email.failed')),
      d.log.lines.join('\n'),
    );
    assert.ok(!d.log.lines.some((l) => l.includes('event=email.refused')));
  });

  test('a failure that would be retried ends the email failed once it was written more than 5 days ago and tried before; a younger one, or a first try, is retried', async () => {
    await contact('acct-stale', 'relayed@customer.example');
    await finalized(db, 'acct-stale', 2);
    const [old, young] = await rowsOf(db, 'acct-stale');
    await db.pool.query(
      `update invoicing.email_deliveries set created_at = now() - case notice_id when $1 then interval '5 days 1 minute' else interval '4 days 23 hours' end
        where account_id = 'acct-stale'`,
      [old!.notice_id],
    );
    const d = deps();
    // Its first try, however late, is retried: the sender may have been down for days.
    await sendDueEmails(d);
    assert.deepEqual(
      (await rowsOf(db, 'acct-stale')).map((r) => [r.state, r.attempts]),
      [
        ['pending', 1],
        ['pending', 1],
      ],
    );
    await db.pool.query(`update invoicing.email_deliveries set next_attempt_at = now() where account_id = 'acct-stale'`);
    await sendDueEmails(d);
    const [oldRow, youngRow] = await rowsOf(db, 'acct-stale');
    assert.deepEqual([oldRow?.state, oldRow?.attempts], ['failed', 2], JSON.stringify(oldRow));
    assert.match(oldRow!.last_error ?? '', /^gave up after 5 days: .*554 5\.7\.1/);
    assert.equal(youngRow?.notice_id, young!.notice_id);
    assert.deepEqual([youngRow?.state, youngRow?.attempts], ['pending', 2], JSON.stringify(youngRow));
    const expired = d.log.lines.filter((l) => l.includes('event=email.expired'));
    assert.equal(expired.length, 1, d.log.lines.join('\n'));
    assert.match(expired[0]!, /at=warn .*count#emails\.expired=1/);
    assert.ok(!d.log.lines.some((l) => l.includes('relayed@customer.example')), 'the address never reaches the log');
  });

  test('the contact is read right before each email: one corrected while the batch is sending gets the rest', async () => {
    await contact('acct-move', 'old@customer.example');
    await finalized(db, 'acct-move', 2);
    onMessage = async (to) => {
      // The operator corrects the address (PUT /v1/accounts/:id/contact) while the first is being sent.
      if (to === 'old@customer.example') await contact('acct-move', 'new@customer.example');
    };
    const from = received.length;
    await sendDueEmails(deps());
    onMessage = undefined;
    assert.deepEqual(
      received.slice(from).map((r) => r.to),
      ['old@customer.example', 'new@customer.example'],
    );
    assert.deepEqual(
      (await rowsOf(db, 'acct-move')).map((r) => [r.state, r.sent_to]),
      [
        ['sent', 'old@customer.example'],
        ['sent', 'new@customer.example'],
      ],
    );
  });

  test('a stored contact that is a list or a name (x<victim@…>, a,b@…) is skipped, not sent to', async () => {
    // Stored before the route took plain addresses only (the table's check lets them by).
    await contact('acct-name', 'x<victim@evil.example>');
    await contact('acct-list', 'a,victim@evil.example');
    await finalized(db, 'acct-name', 1);
    await finalized(db, 'acct-list', 1);
    const from = received.length;
    const d = deps();
    await sendDueEmails(d);
    assert.deepEqual(received.slice(from), []);
    for (const account of ['acct-name', 'acct-list']) assert.equal((await rowsOf(db, account))[0]?.state, 'skipped');
    assert.equal(d.log.lines.filter((l) => l.includes('event=email.skipped') && l.includes('reason=bad_contact')).length, 2);
    assert.ok(!d.log.lines.some((l) => l.includes('victim')), 'the address never reaches the log');
  });

  test('a stop (SIGTERM) during a pass ends it after the email being sent, not after the whole batch', async () => {
    await contact('acct-stop', 'ap@stop.example');
    await finalized(db, 'acct-stop', 4);
    let stopping: Promise<void> | undefined;
    const loop = startEmailSender({ ...deps(), everyMs: 60_000 });
    onMessage = () => {
      stopping ??= loop.stop();
    };
    await new Promise<void>((resolve) => {
      const wait = setInterval(() => stopping && (clearInterval(wait), resolve()), 10);
    });
    await stopping;
    onMessage = undefined;
    assert.deepEqual(
      (await rowsOf(db, 'acct-stop')).map((r) => r.state),
      ['sent', 'pending', 'pending', 'pending'],
    );
    await sendDueEmails(deps());
    assert.ok((await rowsOf(db, 'acct-stop')).every((r) => r.state === 'sent'));
  });
});

describe('the contact route takes one plain address (AccountContactRequest)', () => {
  test('a list, a name, brackets, quotes or spaces are refused naming email; plain ones of any script pass', () => {
    for (const email of [
      'a,b@x.com',
      'x<victim@x.com>',
      '<victim@x.com>',
      '"a b"@x.com',
      'a b@x.com',
      'a;b@x.com',
      'a:b@x.com',
      'a(b)@x.com',
      'nope',
      'a@b@c.d',
      'a@[192.0.2.1]',
    ]) {
      const r = AccountContactRequest.safeParse({ email });
      assert.ok(!r.success, email);
      assert.deepEqual(
        r.error.issues.map((i) => i.path),
        [['email']],
        email,
      );
    }
    for (const email of ['billing@customer.example', "o'brien+tag@mail.example.co.uk", 'jörg@exämple.de', ' ap@late.example ']) {
      assert.ok(AccountContactRequest.safeParse({ email }).success, email);
    }
  });
});

describe('the pick of due emails (real PostgreSQL)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await chargingDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test('with many emails sent and a few pending, it walks the index of pending emails, never the notices', async () => {
    await db.pool.query(`
      insert into invoicing.notices (id, type, account_id, event)
        select 'invoice.finalized:inv-' || i, 'invoice.finalized', 'acct-' || (i % 500), '{}'::json from generate_series(1, 40000) i;
      insert into invoicing.email_deliveries (notice_id, account_id, state, attempts, sent_to, done_at)
        select id, account_id, 'sent', 1, 'ap@x.example', now() from invoicing.notices where seq <= 39990;
      insert into invoicing.email_deliveries (notice_id, account_id)
        select id, account_id from invoicing.notices where seq > 39990;
      analyze invoicing.notices;
      analyze invoicing.email_deliveries;`);
    const { rows } = await db.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (format json) ${PICK_DUE_EMAILS}`, [50]);
    const nodes = flatten(rows[0]!['QUERY PLAN'][0].Plan);
    const shown = JSON.stringify(nodes.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]));
    assert.ok(
      nodes.some((n) => n['Relation Name'] === 'email_deliveries' && n['Index Name'] === 'email_deliveries_pending'),
      shown,
    );
    for (const n of nodes.filter((n) => n['Relation Name'] === 'notices')) {
      assert.ok(n['Node Type'] === 'Index Scan' && n['Index Name'] === 'notices_id_key', `notices only by id: ${shown}`);
    }
    assert.ok(!nodes.some((n) => n['Node Type'] === 'Sort'), `no sort of every due email: ${shown}`);
    assert.equal((await db.pool.query(PICK_DUE_EMAILS, [50])).rows.length, 10);
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const flatten = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(flatten)];
