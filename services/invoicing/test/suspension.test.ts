// Suspension through the real apps (the sandbox and the invoicing process,
// SUSPEND_PAST_DUE_AFTER=PT1S): an account whose invoice is past due longer
// is suspended (notice, email, GET /v1/accounts/:id), and reinstated once a
// card pays it. The emails arrive in a real SMTP server in this process.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { eventually, freePort, startService, type RunningService } from '@vault/testkit';
import { noticesOf } from '../src/notices/outbox.ts';
import { chargingWorld, insertInvoice, putCard, type ChargingWorld } from '../../../test/charging-harness.ts';

const ADMIN = 'suspension-admin-token-0123456789abcdef';

describe('an account past due beyond SUSPEND_PAST_DUE_AFTER, through the sandbox and the invoicing process', () => {
  let w: ChargingWorld;
  let app: RunningService;
  let smtp: SMTPServer;
  const mail: { to: string; subject: string }[] = [];

  before(async () => {
    w = await chargingWorld('suspension');
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
        stream.on('end', () => {
          mail.push({ to: session.envelope.rcptTo[0]!.address, subject: /^Subject: (.*)$/im.exec(raw)?.[1]?.trim() ?? '' });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    app = await startService('invoicing', {
      DATABASE_URL: w.db.url,
      GATEWAY_PORT: String(w.gatewayPort),
      ADMIN_TOKEN: ADMIN,
      INVOICING_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      CHARGE_EVERY_SECONDS: '0.2',
      INVOICE_FINALIZE_EVERY_SECONDS: '3600',
      SUSPEND_PAST_DUE_AFTER: 'PT1S',
      SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
    });
  });
  after(async () => {
    await app?.kill('SIGTERM');
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    await w?.close();
  });

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${app.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  test('past due without a card: suspended after the setting (notice, email, the account read); a card added pays it and reinstates the account', async () => {
    const contact = await api('/v1/accounts/acct-late/contact', { method: 'PUT', body: JSON.stringify({ email: 'ap@late.example' }) });
    assert.equal(contact.status, 200, JSON.stringify(contact.body));
    // One plain address only: a mailer reads `a,b@…` as a list (sent to b only) and `x<victim@…>` as a name.
    for (const email of ['nope', 'a,ap@late.example', 'x<victim@evil.example>', '"a b"@late.example', 'a b@late.example']) {
      const bad = await api('/v1/accounts/acct-late/contact', { method: 'PUT', body: JSON.stringify({ email }) });
      assert.equal(bad.status, 400, email);
      assert.equal(bad.body.fields[0].field, 'email');
    }
    assert.equal((await api('/v1/accounts/acct-late')).body.email, 'ap@late.example', 'a refused address changes nothing');

    await insertInvoice(w.db.pool, { id: 'inv-late', account: 'acct-late', total: '40.00' });
    let standing: Record<string, any> = {};
    await eventually(
      () => `suspended, is ${JSON.stringify(standing)}`,
      async () => {
        standing = (await api('/v1/accounts/acct-late')).body;
        return standing.standing === 'suspended';
      },
      20_000,
    );
    assert.deepEqual(
      standing.past_due.map((p: { invoice_id: string }) => p.invoice_id),
      ['inv-late'],
    );
    const since = Date.parse(standing.past_due[0].since);
    assert.ok(Date.parse(standing.suspended_at) - since >= 1_000, 'suspended only once past due longer than PT1S');

    await putCard(w, 'acct-late', '4242424242424242');
    await eventually(
      () => `reinstated, is ${JSON.stringify(standing)}`,
      async () => {
        standing = (await api('/v1/accounts/acct-late')).body;
        return standing.standing === 'active' && standing.reinstated_at !== null;
      },
      20_000,
    );
    assert.deepEqual(standing.past_due, []);
    assert.deepEqual(
      (await noticesOf(w.db.pool, 'acct-late')).map((n) => n.id),
      ['invoice.past_due:inv-late', 'account.suspended:acct-late:1', 'invoice.paid:inv-late', 'account.reinstated:acct-late:1'],
    );
    const notices = (await api('/v1/notices?limit=1000')).body.notices as { type: string; data: Record<string, unknown> }[];
    const suspended = notices.find((n) => n.type === 'account.suspended')!;
    assert.deepEqual(suspended.data.invoice_ids, ['inv-late']);

    await eventually(
      () => `2 emails, got ${JSON.stringify(mail)}`,
      () => mail.length >= 2,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 500)); // nothing more comes
    assert.deepEqual(
      mail.map((m) => [m.to, m.subject]),
      [
        ['ap@late.example', `Invoice ${String(notices.find((n) => n.type === 'invoice.past_due')!.data.number)} is past due`],
        ['ap@late.example', 'Your account acct-late is suspended'],
      ],
    );
    assert.equal((await api('/v1/accounts/acct-nobody')).status, 404);
  });
});
