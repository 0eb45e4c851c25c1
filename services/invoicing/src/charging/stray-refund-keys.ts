// The idempotency key a stray payment's refund goes under (`invoicing.stray_refund_keys`, migration
// 041): its state's own key (refundKey, stray-refund-answer.ts) until the gateway kept an answer under
// that one (stray-refund-after-500.ts); then a new key, stored before it is sent.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** The key the refund of the state `baseKey` goes under: the one stored for it, else its own. */
export async function strayRefundKey(pool: pg.Pool, baseKey: string): Promise<string> {
  const { rows } = await pool.query<{ idempotency_key: string }>(
    'select idempotency_key from invoicing.stray_refund_keys where base_key = $1',
    [baseKey],
  );
  return rows[0]?.idempotency_key ?? baseKey;
}

/**
 * A new key for the state `baseKey` in place of `used`, stored before it is sent; returns the key
 * the state goes under now. Only in place of `used`: when another run renewed it meanwhile, its key
 * stands (and is returned), so two runs never send two new keys.
 */
export async function renewStrayRefundKey(pool: pg.Pool, baseKey: string, paymentIntentId: string, used: string): Promise<string> {
  // One upsert that always returns the row as it stands once this statement has it: a conflict waits
  // for the other run's commit and works on its row version. A fallback select in the same statement
  // read its snapshot, from before that commit: no row (a TypeError) or the spent key.
  const { rows } = await pool.query<{ idempotency_key: string }>(
    `insert into invoicing.stray_refund_keys as k (base_key, payment_intent_id, idempotency_key) values ($1, $2, $4)
     on conflict (base_key) do update
        set idempotency_key = case when k.idempotency_key = $3 then excluded.idempotency_key else k.idempotency_key end,
            renewed_at = case when k.idempotency_key = $3 then now() else k.renewed_at end
     returning idempotency_key`,
    [baseKey, paymentIntentId, used, `${baseKey}:${randomUUID()}`],
  );
  return rows[0]!.idempotency_key;
}
