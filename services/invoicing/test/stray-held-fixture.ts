// A stray payment held by the charger's confirm, as the held-stray tests start from.
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { PassReport } from '../src/charging/charger.ts';
import { chargeRow, type FakeGateway, insertInvoice, putCard } from './charging-fixture.ts';

/**
 * The charger's confirm of a 52.58 invoice `id` takes 0.50 (its PaymentIntent changed at the
 * gateway before the send): held, the pass left after an error. Its charge row is returned.
 */
export async function heldByTheCharger(
  pool: pg.Pool,
  gateway: FakeGateway,
  id: string,
  pass: (gateway: FakeGateway) => Promise<PassReport>,
): Promise<Awaited<ReturnType<typeof chargeRow>>> {
  await insertInvoice(pool, { id, account: `acct-${id}`, total: '52.58' });
  await putCard(pool, `acct-${id}`, `pm_ok_${id}`);
  gateway.beforeSend = async (invoiceId) => {
    const intent = [...gateway.intents.values()].find((i) => i.invoiceId === invoiceId && i.status === 'requires_payment_method');
    if (invoiceId === id && intent) gateway.updatedAtGateway(intent.id, { amount: 50 });
  };
  assert.equal((await pass(gateway)).errors, 1, 'held: left after an error, as before');
  gateway.beforeSend = undefined;
  return chargeRow(pool, id);
}
