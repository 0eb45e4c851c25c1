// An invoice's amount disputed, in SQL: what chargebacks withdrew of its
// payment and were not reinstated (migration 028), "0.00" when none. Read
// with the invoice everywhere it is shown (the API, the exports).

/** A text column of the amount disputed of the invoice whose row is `ref` (a table name or alias). */
export const amountDisputedSql = (ref: string) =>
  `(select coalesce(sum(d.amount), 0)::numeric(14, 2)::text from invoicing.invoice_disputes d
     where d.invoice_id = ${ref}.id and d.withdrawn_at is not null and d.reinstated_at is null)`;
