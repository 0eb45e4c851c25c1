// GET /v1/events as Stripe documents it and as invoicing's catch-up uses it:
// types[], created ranges, the last 30 days only, pages newest first with
// starting_after / has_more and oldest first with ending_before, through the
// official SDK's auto-pagination.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { raw, startSandbox, type Sandbox } from './harness.ts';

describe('GET /v1/events', () => {
  let sb: Sandbox;
  /** customer.created events, oldest first, made `base + 10 s × i`. */
  const ids: string[] = [];
  const base = Math.floor(Date.now() / 1000) - 3_600;
  const customer = { types: ['customer.created'] };
  const list = async (params: Stripe.EventListParams) => {
    const seen: string[] = [];
    for await (const e of sb.stripe.events.list(params)) seen.push(e.id);
    return seen;
  };

  before(async () => {
    sb = await startSandbox();
    for (let i = 0; i < 7; i++) await sb.stripe.customers.create({ email: `events-${i}@example.com` });
    // Their instants, spread out (the sandbox stamps its clock's second): i = 0 is the oldest.
    const { rows } = await sb.db.pool.query<{ id: string }>(
      `select id from gateway_sandbox.events where type = 'customer.created' order by seq`,
    );
    for (const [i, r] of rows.entries()) {
      await sb.db.pool.query('update gateway_sandbox.events set created = $2 where id = $1', [r.id, base + 10 * i]);
      ids.push(r.id);
    }
    assert.equal(ids.length, 7);
  });
  after(async () => {
    await sb?.close();
  });

  test('created[gte], [gt], [lt], [lte] and an exact created filter by the instant, with types[]', async () => {
    const newest = [...ids].reverse();
    assert.deepEqual(await list({ ...customer, created: { gte: base + 40 } }), newest.slice(0, 3));
    assert.deepEqual(await list({ ...customer, created: { gt: base + 40 } }), newest.slice(0, 2));
    assert.deepEqual(await list({ ...customer, created: { lt: base + 20 } }), newest.slice(5));
    assert.deepEqual(await list({ ...customer, created: { gte: base + 10, lte: base + 30 } }), [ids[3], ids[2], ids[1]]);
    assert.deepEqual(await list({ ...customer, created: base + 50 }), [ids[5]]);
    assert.deepEqual(await list({ types: ['customer.deleted'], created: { gte: base } }), []);
  });

  test('pages newest first with starting_after and has_more; with ending_before the SDK gives them oldest first', async () => {
    const first = await sb.stripe.events.list({ ...customer, created: { gte: base }, limit: 3 });
    assert.deepEqual(
      first.data.map((e) => e.id),
      [ids[6], ids[5], ids[4]],
    );
    assert.equal(first.has_more, true);
    const last = await sb.stripe.events.list({ ...customer, created: { gte: base }, limit: 3, starting_after: ids[1] });
    assert.deepEqual(
      last.data.map((e) => e.id),
      [ids[0]],
    );
    assert.equal(last.has_more, false);
    assert.deepEqual(await list({ ...customer, created: { gte: base }, limit: 2 }), [...ids].reverse());
    assert.deepEqual(await list({ ...customer, created: { gte: base }, limit: 2, ending_before: ids[1] }), ids.slice(2));
  });

  test('an event older than 30 days is not listed, whatever the filter, and retrieving it is 404 resource_missing', async () => {
    await sb.db.pool.query('update gateway_sandbox.events set created = $2 where id = $1', [ids[0], base - 31 * 86_400]);
    // 29 days old: still listed and retrieved.
    await sb.db.pool.query('update gateway_sandbox.events set created = $2 where id = $1', [ids[1], base - 29 * 86_400]);
    try {
      const listed = await list({ ...customer, created: { gte: 0 } });
      assert.deepEqual(listed, ids.slice(1).reverse());
      assert.equal((await sb.stripe.events.retrieve(ids[1]!)).id, ids[1]);
      // Stripe retrieves an event "if it was created in the last 30 days": the same rule as the list.
      await assert.rejects(sb.stripe.events.retrieve(ids[0]!), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.equal(err.statusCode, 404);
        assert.equal(err.code, 'resource_missing');
        assert.equal(err.param, 'id');
        assert.equal(err.message, `No such event: '${ids[0]}'`);
        return true;
      });
    } finally {
      await sb.db.pool.query('update gateway_sandbox.events set created = $2 where id = $1', [ids[1], base + 10]);
      await sb.db.pool.query('update gateway_sandbox.events set created = $2 where id = $1', [ids[0], base]);
    }
  });

  test('type with types[], a created bound that is not a number, or an unknown bound: 400 naming the param', async () => {
    await assert.rejects(sb.stripe.events.list({ type: 'customer.created', types: ['customer.created'] }), (err: unknown) => {
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.param, 'types');
      assert.match(err.message, /either type or types, but not both/);
      return true;
    });
    const soon = await raw(sb.url, 'GET', '/v1/events?created[gt]=soon');
    assert.equal(soon.status, 400);
    assert.equal(soon.body.error.param, 'created');
    const between = await raw(sb.url, 'GET', '/v1/events?created[between]=1');
    assert.equal(between.status, 400);
    assert.match(between.body.error.param, /^created/);
  });
});
