// starting_after and ending_before together are Stripe's 400 ("Received both starting_after and
// ending_before parameters. Please pass in only one."), on every list; either alone still pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { raw, startSandbox, type Sandbox } from './harness.ts';

describe('list cursors', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    await sb.close();
  });

  test('both cursors: 400 with Stripe’s message, through the SDK and raw on customers and events', async () => {
    const a = await sb.stripe.customers.create({ name: 'A' });
    const b = await sb.stripe.customers.create({ name: 'B' });
    const c = await sb.stripe.customers.create({ name: 'C' });
    const both = await sb.stripe.customers.list({ starting_after: c.id, ending_before: a.id }).catch((e: unknown) => e);
    assert.ok(both instanceof Stripe.errors.StripeInvalidRequestError, String(both));
    assert.equal(both.statusCode, 400);
    assert.equal(both.message, 'Received both starting_after and ending_before parameters. Please pass in only one.');

    const events = await sb.stripe.events.list({ limit: 1 });
    const id = events.data[0]!.id;
    const rawBoth = await raw(sb.url, 'GET', `/v1/events?starting_after=${id}&ending_before=${id}`);
    assert.equal(rawBoth.status, 400);
    assert.match(rawBoth.body.error.message, /^Received both starting_after and ending_before/);

    assert.deepEqual(
      (await sb.stripe.customers.list({ starting_after: c.id })).data.map((x) => x.id),
      [b.id, a.id],
    );
    assert.deepEqual(
      (await sb.stripe.customers.list({ ending_before: a.id })).data.map((x) => x.id),
      [c.id, b.id],
    );
  });
});
