// GATEWAY_MINIMUM_CHARGE: the gateway's smallest charge in the price book's
// currency, which Stripe publishes for some currencies only (in ZAR, ILS, … it
// is the settlement currency's minimum after conversion). An installation
// billing in such a currency boots with it declared, and every decision of
// what is too small to charge uses it: the charger's, the pages', the emails',
// finalize's carrying. Without it the app and the CLI refuse, naming the
// currency and the variable; below a published minimum it is refused. Real
// PostgreSQL and the real processes for the boot and the CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { ConfigError } from '@vault/runtime';
import { bootToExit, freePort, vault, type TestDatabase } from '@vault/testkit';
import { finalizedInvoices } from '../src/billing/invoice-store.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { createBilling } from '../src/billing/service.ts';
import { minimumCharge, minimumChargeAmount } from '../src/charging/amount.ts';
import { decide, type ChargeableInvoice } from '../src/charging/decide.ts';
import { readPaymentStates } from '../src/charging/payment-state.ts';
import { invoicingConfig } from '../src/config.ts';
import { emailFor } from '../src/email/messages.ts';
import { invoiceNotice } from '../src/notices/notice.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

const ADMIN = 'minimum-charge-admin-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'minimum-charge-'));
/** A price book in `currency`: a basic dyno 240.00 a month, so one day of a 30-day month is 8.00. */
const book = (currency: string) => {
  const path = join(dir, `${currency}.json`);
  writeFileSync(path, JSON.stringify({ currency, products: { 'dyno:basic': '240.00' } }));
  return path;
};
const ZAR = book('ZAR');
const USD = book('USD');

/** The problems invoicingConfig names for `env`, or [] when it boots. */
function problems(env: NodeJS.ProcessEnv): ConfigError['problems'] {
  try {
    invoicingConfig({ ADMIN_TOKEN: ADMIN, ...env });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
}

describe('GATEWAY_MINIMUM_CHARGE at boot', () => {
  test('a ZAR price book without it is refused, naming the currency and the variable and what to set; with it, it boots', () => {
    const [problem, ...others] = problems({ PRICE_BOOK: ZAR });
    assert.deepEqual(others, []);
    assert.equal(problem?.variable, 'GATEWAY_MINIMUM_CHARGE');
    assert.match(
      problem.message,
      /^required with the price book's currency ZAR \(.*ZAR\.json\): the gateway publishes no minimum charge in ZAR/,
    );
    assert.match(
      problem.message,
      /set GATEWAY_MINIMUM_CHARGE to the smallest ZAR amount the gateway charges, with two decimals \(e\.g\. 10\.00\)/,
    );
    const config = invoicingConfig({ ADMIN_TOKEN: ADMIN, PRICE_BOOK: ZAR, GATEWAY_MINIMUM_CHARGE: '10.00' });
    assert.deepEqual([config.prices.currency, config.GATEWAY_MINIMUM_CHARGE], ['ZAR', '10.00']);
    assert.deepEqual([minimumChargeAmount('ZAR'), minimumCharge('zar')], ['10.00', 1000]);
  });

  test('the real process with a ZAR price book and no GATEWAY_MINIMUM_CHARGE exits with one config.invalid line naming both', async () => {
    const run = await bootToExit('invoicing', {
      HOST: '127.0.0.1',
      ADMIN_TOKEN: ADMIN,
      INVOICING_PORT: String(await freePort()),
      PRICE_BOOK: ZAR,
      GATEWAY_MINIMUM_CHARGE: '',
    });
    assert.notEqual(run.status, 0);
    const errors = run.lines.filter((l) => /\bat=error\b/.test(l));
    assert.equal(errors.length, 1, run.lines.join('\n'));
    assert.match(errors[0]!, /event=config\.invalid .*GATEWAY_MINIMUM_CHARGE: required with the price book's currency ZAR/);
    assert.ok(!run.lines.some((l) => /^\s+at /.test(l)), 'no stack trace');
  });

  test('with a published minimum (USD): unset is 0.50; below it is refused, naming the published one; a higher one is taken', () => {
    assert.deepEqual(problems({ PRICE_BOOK: USD }), []);
    assert.equal(minimumChargeAmount('USD'), '0.50');
    const [problem, ...others] = problems({ PRICE_BOOK: USD, GATEWAY_MINIMUM_CHARGE: '0.30' });
    assert.deepEqual(others, []);
    assert.equal(problem?.variable, 'GATEWAY_MINIMUM_CHARGE');
    assert.match(problem.message, /^0\.30 is below the gateway's own minimum charge in USD, the price book's currency \(.*\): 0\.50,/);
    assert.match(problem.message, /unset GATEWAY_MINIMUM_CHARGE to use 0\.50/);
    // A USD account settling in EUR: Stripe's minimum is EUR 0.50 after conversion, above USD 0.50.
    assert.deepEqual(problems({ PRICE_BOOK: USD, GATEWAY_MINIMUM_CHARGE: '0.60' }), []);
    assert.equal(minimumChargeAmount('USD'), '0.60');
    assert.deepEqual(problems({ PRICE_BOOK: USD }), []);
    assert.equal(minimumChargeAmount('USD'), '0.50', 'a boot without it forgets the declared one');
  });

  test('a malformed value is named alone (never also "required"): two decimals, above zero', () => {
    for (const bad of ['10', '10.0', '10.000', '0.00', '-1.00', '1e3', ' 10.00', '10.00\n', 'R10.00']) {
      const found = problems({ PRICE_BOOK: ZAR, GATEWAY_MINIMUM_CHARGE: bad });
      assert.deepEqual(
        found.map((p) => p.variable),
        ['GATEWAY_MINIMUM_CHARGE'],
        JSON.stringify(bad),
      );
      assert.match(
        found[0]!.message,
        /^expected an amount in the price book's currency above zero with two decimals, such as 10\.00, got /,
      );
    }
  });
});

describe('a declared minimum decides what is too small to charge', () => {
  let db: TestDatabase;
  const invoice = (total: string): ChargeableInvoice => ({
    id: 'inv-zar',
    accountId: 'acct-zar',
    number: '2026-09-000001',
    status: 'finalized',
    currency: 'ZAR',
    total,
  });
  const card = { customerId: 'cus_1', paymentMethodId: 'pm_a' };
  const NOW = new Date('2026-10-05T00:00:00Z');
  before(async () => {
    loadPriceBook(ZAR, '10.00');
    db = await billingDatabase();
  });
  after(() => db?.drop());

  test('the charger: ZAR 8.00 below a declared 10.00 is below_minimum; 10.00 is attempted as 1000 minor units', () => {
    assert.deepEqual(decide(invoice('8.00'), undefined, card, NOW), { do: 'nothing', why: 'below_minimum' });
    assert.deepEqual(decide(invoice('9.99'), undefined, card, NOW), { do: 'nothing', why: 'below_minimum' });
    const at = decide(invoice('10.00'), undefined, card, NOW);
    assert.deepEqual([at.do, at.do === 'attempt' && at.amount], ['attempt', 1000]);
  });

  test('the invoice pages and the finalized email: ZAR 8.00 is below the smallest charge, 10.00 ZAR', async () => {
    // The page reads finalize's rule (`carryable`) with the invoice's row: written, read, rolled back.
    const pageSays = async (total: string) => {
      const seen = { id: 'inv-zar', status: 'finalized' as const, total, currency: 'ZAR', amount_refunded: '0.00' };
      const client = await db.pool.connect();
      try {
        await client.query('begin');
        await client.query(
          `insert into invoicing.invoices (id, account_id, period, period_start, period_end, number, currency, total, status)
           values ('inv-zar', 'acct-zar', '2026-09', '2026-09-01', '2026-10-01', '2026-09-000001', 'ZAR', $1, 'finalized')`,
          [total],
        );
        return (await readPaymentStates(client, [seen])).get('inv-zar');
      } finally {
        await client.query('rollback');
        client.release();
      }
    };
    assert.deepEqual(await pageSays('8.00'), { kind: 'none', why: 'below_minimum' });
    assert.deepEqual(await pageSays('10.00'), { kind: 'pending', pastDue: undefined });
    const notice = { id: 'inv-zar', accountId: 'acct-zar', number: '2026-09-000001', period: '2026-09', currency: 'ZAR', total: '8.00' };
    const text = emailFor(invoiceNotice('invoice.finalized', { ...notice, status: 'finalized' }, NOW, {}, 1).event, {
      invoicingUrl: 'https://billing.example.test',
    })!.text;
    assert.match(text, /below the smallest charge we can make to a card \(10\.00 ZAR\)\. It is not charged/);
  });

  test('finalize: a ZAR 8.00 month is finalized and carried onto the next invoice, naming the declared 10.00', async () => {
    let clock = DateTime.fromISO('2026-10-05T00:00:00Z', { zone: 'utc' });
    const billing = createBilling({ pool: db.pool, prices: loadPriceBook(ZAR, '10.00'), graceHours: 72, now: () => clock });
    await seedOwners(db.pool, [{ app: 'zar-app', account: 'acct-zar', from: '2026-09-01T00:00:00Z' }]);
    await seedUsage(db.pool, [
      // September: 1/30 × 240.00 = 8.00. October: 2/31 × 240.00 = 15.48.
      { app: 'zar-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-09-10T00:00:00Z', to: '2026-09-11T00:00:00Z' },
      { app: 'zar-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-10T00:00:00Z', to: '2026-10-12T00:00:00Z' },
    ]);
    await billing.finalize('2026-09');
    const invoices = async () => (await finalizedInvoices(db.pool, 'acct-zar')).sort((a, b) => a.period.localeCompare(b.period));
    assert.deepEqual(
      (await invoices()).map((i) => [i.period, i.status, i.total]),
      [['2026-09', 'finalized', '8.00']],
    );
    clock = DateTime.fromISO('2026-11-05T00:00:00Z', { zone: 'utc' });
    await billing.finalize('2026-10');
    const [september, october] = await invoices();
    assert.deepEqual([september?.status, october?.total], ['carried', '23.48']);
    assert.deepEqual(
      october!.lines.filter((l) => l.kind === 'carried').map((l) => l.description.replace(/\(invoice [^)]+\)/, '(…)')),
      ['Carried from 2026-09 (…): 8.00 ZAR is below the smallest charge of 10.00 ZAR'],
    );
  });

  test('vault finalize, credit grant, charge and archive on a ZAR database: refused without it, naming both; with it, finalize finalizes', async () => {
    const cliDb = await billingDatabase();
    try {
      await seedOwners(cliDb.pool, [{ app: 'cli-app', account: 'acct-cli', from: '2026-09-01T00:00:00Z' }]);
      await seedUsage(cliDb.pool, [
        { app: 'cli-app', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-09-10T00:00:00Z', to: '2026-09-11T00:00:00Z' },
      ]);
      const env = { DATABASE_URL: cliDb.url, PRICE_BOOK: ZAR, GATEWAY_MINIMUM_CHARGE: '' };
      // Each command that loads the price book: finalize, credit grant, charge, archive (its months' gate).
      for (const args of [
        ['finalize', '--period', '2026-09'],
        ['credit', 'grant', '--account', 'acct-cli', '--amount', '5.00', '--reason', 'goodwill', '--id', 'g-cli'],
        ['charge'],
        ['archive', '--dir', join(dir, 'archive')],
      ]) {
        const refused = await vault(args, env);
        assert.equal(refused.status, 1, refused.stderr);
        assert.match(
          refused.stderr,
          new RegExp(`^vault: ${args[0]}: GATEWAY_MINIMUM_CHARGE: required with the price book's currency ZAR`, 'm'),
        );
        assert.doesNotMatch(refused.stderr, /^\s+at /m);
      }
      const done = await vault(['finalize', '--period', '2026-09'], { ...env, GATEWAY_MINIMUM_CHARGE: '10.00' });
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, /^finalized 1 invoice\(s\) for 2026-09 totalling 8\.00 ZAR;/m);
    } finally {
      await cliDb.drop();
    }
  });
});
