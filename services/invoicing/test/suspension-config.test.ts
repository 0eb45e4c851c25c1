// SUSPEND_PAST_DUE_AFTER and the other variables of issue 18 as invoicing
// parses them: defaults, good values, and a bad value stopping the real
// process at boot with one line naming the variable (never SMTP_URL's value).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '@vault/runtime';
import { bootToExit } from '@vault/testkit';
import { invoicingConfig } from '../src/config.ts';

const BASE = { ADMIN_TOKEN: 'suspension-config-admin-0123456789abcdef' };

describe('the notices, suspension and email variables', () => {
  test('defaults: P7D, the platform.billing-notices.v1 topic, no Kafka, no SMTP (emails logged)', () => {
    const c = invoicingConfig(BASE);
    assert.equal(c.SUSPEND_PAST_DUE_AFTER, 7 * 86_400);
    assert.equal(c.BILLING_NOTICES_TOPIC, 'platform.billing-notices.v1');
    assert.equal(c.KAFKA_BROKERS, undefined);
    assert.equal(c.SMTP_URL, undefined);
    assert.equal(invoicingConfig({ ...BASE, SUSPEND_PAST_DUE_AFTER: 'PT12H' }).SUSPEND_PAST_DUE_AFTER, 43_200);
    assert.equal(invoicingConfig({ ...BASE, SMTP_URL: 'smtps://u:p@mail.example:465' }).SMTP_URL, 'smtps://u:p@mail.example:465');
  });

  test('a duration that is not one positive ISO-8601 duration, or an SMTP_URL that is not smtp(s)://host, is refused naming it', () => {
    for (const bad of ['P1M', '7 days', 'P0D', 'P3D,P5D', '-P1D']) {
      assert.throws(
        () => invoicingConfig({ ...BASE, SUSPEND_PAST_DUE_AFTER: bad }),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'SUSPEND_PAST_DUE_AFTER'),
        bad,
      );
    }
    for (const bad of ['http://u:secretpw@mail.example', 'mail.example:25', 'smtp://']) {
      assert.throws(
        () => invoicingConfig({ ...BASE, SMTP_URL: bad }),
        (err: unknown) =>
          err instanceof ConfigError && err.problems.some((p) => p.variable === 'SMTP_URL' && !p.message.includes('secretpw')),
        bad,
      );
    }
  });

  test('EMAIL_FROM is one mailbox as nodemailer reads it: a bare name, two addresses, a group or no address is refused naming it (nodemailer sent such mail without a sender)', () => {
    assert.equal(invoicingConfig(BASE).EMAIL_FROM, 'The Vault billing <billing@vault.invalid>');
    for (const good of [
      'billing@example.com',
      'The Vault billing <billing@example.com>',
      '"Vault, Inc." <b@example.com>',
      'root@localhost',
      'billing@example.com (The Vault)',
      '"The \\"Vault\\"" <b@example.com>',
    ]) {
      assert.equal(invoicingConfig({ ...BASE, EMAIL_FROM: good }).EMAIL_FROM, good, good);
    }
    for (const bad of [
      'billing',
      'The Vault billing',
      'a@b.c, x@y.z',
      'Vault <billing>',
      '<>',
      'Acme: Billing <billing@acme.com>',
      'x:y@z.com',
    ]) {
      assert.throws(
        () => invoicingConfig({ ...BASE, EMAIL_FROM: bad }),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.variable === 'EMAIL_FROM'),
        bad,
      );
    }
  });

  test('the invoicing process with a bad SUSPEND_PAST_DUE_AFTER exits 1 at boot with one config.invalid line naming it', async () => {
    const run = await bootToExit('invoicing', { ...BASE, SUSPEND_PAST_DUE_AFTER: 'P1M', SMTP_URL: 'smtp://user:hunter2@mail.example' });
    assert.equal(run.status, 1, run.lines.join('\n'));
    const errors = run.lines.filter((l) => l.includes('at=error'));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    assert.match(errors[0]!, /event=config\.invalid .*SUSPEND_PAST_DUE_AFTER: expected one ISO-8601 duration/);
    assert.ok(!run.lines.join('\n').includes('hunter2'), 'the SMTP password is never printed');
  });
});
