// What two runs are compared by: invoices per account and month (ids and
// numbers left out), metering's usage as invoicing reads it, and the
// gateway's record of PaymentIntents and charges per invoice.
import type pg from 'pg';

export interface ComparableInvoice {
  total: string;
  lines: { app_id: string; kind: string; key: string; product: string; quantity: string; amount: string | null }[];
}

/** `account/period` → the invoice's total and lines, in the invoice's own order. */
export async function invoicesOf(pool: pg.Pool): Promise<Record<string, ComparableInvoice>> {
  const { rows } = await pool.query<{ account_id: string; period: string; total: string; lines: ComparableInvoice['lines'] }>(
    `select i.account_id, i.period, i.total::text as total,
            coalesce(json_agg(json_build_object('app_id', l.app_id, 'kind', l.kind, 'key', l.key, 'product', l.product,
                                                'quantity', l.quantity::text, 'amount', l.amount::text) order by l.position)
                     filter (where l.invoice_id is not null), '[]') as lines
       from invoicing.invoices i left join invoicing.invoice_lines l on l.invoice_number = i.number
      group by i.id order by i.account_id, i.period`,
  );
  return Object.fromEntries(rows.map((r) => [`${r.account_id}/${r.period}`, { total: r.total, lines: r.lines }]));
}

/** Usage and ownership through metering's published views, in a stable order (learned_at left out: it is arrival time). */
export async function usageOf(pool: pg.Pool) {
  const usage = await pool.query(
    `select app_id, kind, key, product, lower(during)::text as "from", upper(during)::text as "to"
       from metering.billable_usage order by app_id, key, product, lower(during)`,
  );
  const owners = await pool.query(
    `select app_id, account_id, lower(during)::text as "from", upper(during)::text as "to"
       from metering.billable_ownership order by app_id, lower(during)`,
  );
  const unreliable = await pool.query('select app_id, subject from metering.unreliable_apps order by subject');
  return { usage: usage.rows, owners: owners.rows, unreliable: unreliable.rows };
}

export interface GatewayInvoiceRecord {
  invoice_id: string;
  intents: number;
  succeeded: number;
  failed: number;
  /** Minor units charged by succeeded charges. */
  charged: number;
}

/** Every PaymentIntent in the sandbox, grouped by the invoice its metadata names, with its charges. */
export async function gatewayRecord(pool: pg.Pool): Promise<Map<string, GatewayInvoiceRecord>> {
  const { rows } = await pool.query<GatewayInvoiceRecord>(
    `select pi.metadata->>'invoice_id' as invoice_id, count(distinct pi.id)::int as intents,
            count(c.id) filter (where c.status = 'succeeded')::int as succeeded,
            count(c.id) filter (where c.status = 'failed')::int as failed,
            coalesce(sum(c.amount) filter (where c.status = 'succeeded'), 0)::int as charged
       from gateway_sandbox.payment_intents pi left join gateway_sandbox.charges c on c.payment_intent = pi.id
      group by 1`,
  );
  return new Map(rows.map((r) => [r.invoice_id, r]));
}
