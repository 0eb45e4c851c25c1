// Card numbers and CVCs never stay: not in any table of the schema (every
// row of every table dumped as text) and not in any log line, whatever the
// outcome (success, decline, bad details, replays).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_CARDS } from '../src/domain/test-cards.ts';
import { PK, raw, startSandbox, type Sandbox } from './harness.ts';

const CVC = '987';
const NUMBERS = [...Object.keys(TEST_CARDS), '4111111111111111', '4242424242424241'];

/** Every string and number inside a JSON value, with the keys seen. */
function leaves(value: unknown, keys: Set<string>, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) leaves(v, keys, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      keys.add(k);
      leaves(v, keys, out);
    }
  } else if (value !== null && value !== undefined) out.push(String(value));
  return out;
}

describe('card numbers and CVCs are never stored or logged', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('after every test card went through create, setup, charge and replays, no table holds a number or CVC', async () => {
    const customer = await sb.stripe.customers.create({ email: 'secrets@example.com' });
    for (const [i, number] of NUMBERS.entries()) {
      const form = { type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': CVC };
      const created = await raw(sb.url, 'POST', '/v1/payment_methods', { key: PK, form, idempotencyKey: `pm-${i}` });
      await raw(sb.url, 'POST', '/v1/payment_methods', { key: PK, form, idempotencyKey: `pm-${i}` });
      if (created.status !== 200) continue;
      const si = await sb.stripe.setupIntents.create({ customer: customer.id });
      await sb.stripe.setupIntents.confirm(si.id, { payment_method: created.body.id }).catch(() => {});
      await sb.stripe.paymentIntents
        .create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: created.body.id, confirm: true, off_session: true })
        .catch(() => {});
    }
    const bad = await raw(sb.url, 'POST', '/v1/payment_methods', {
      form: { type: 'card', 'card[number]': '4242424242424242', 'card[exp_month]': 'xx', 'card[exp_year]': '2034', 'card[cvc]': CVC },
    });
    assert.equal(bad.status, 400);

    const tables = await sb.db.pool.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'gateway_sandbox' and table_type = 'BASE TABLE'`,
    );
    assert.ok(tables.rows.length >= 12);
    const keys = new Set<string>();
    const values: string[] = [];
    let rowCount = 0;
    for (const { table_name } of tables.rows) {
      const { rows } = await sb.db.pool.query(`select to_jsonb(t) as row, t::text as text from gateway_sandbox.${table_name} t`);
      rowCount += rows.length;
      for (const r of rows) {
        leaves(r.row, keys, values);
        values.push(r.text);
      }
    }
    assert.ok(rowCount > 50, `rows dumped: ${rowCount}`);
    for (const number of NUMBERS) {
      for (const fragment of [number, number.slice(0, 12), number.slice(-10)]) {
        assert.ok(!values.some((v) => v.includes(fragment)), `${fragment} (of ${number}) found in a table`);
      }
    }
    assert.ok(!values.some((v) => v === CVC), 'a CVC found in a table');
    for (const k of ['number', 'cvc']) assert.ok(!keys.has(k), `a field named ${k} is stored`);
    const columns = await sb.db.pool.query(
      `select table_name, column_name from information_schema.columns where table_schema = 'gateway_sandbox' and column_name ~ '(number|cvc|pan)$'`,
    );
    assert.deepEqual(columns.rows, []);

    const log = sb.log.lines.join('\n');
    assert.ok(sb.log.lines.length > 50);
    for (const number of NUMBERS) assert.ok(!log.includes(number.slice(-10)), `${number} in the logs`);
    // A field named cvc, or its value as a field's: not "cvc" inside a random id (pi_…Cvc…), which would be luck.
    const cvcLines = sb.log.lines.filter((l) => /\bcvc\b/i.test(l) || new RegExp(`=("?)${CVC}\\1(\\s|$)`).test(l));
    assert.deepEqual(cvcLines, [], 'cvc in the logs');
  });
});
