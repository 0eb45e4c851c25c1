-- The card-testing revocations of an invoice, found by its id: the invoice
-- pages' "payment request canceled" words (charging/request-canceled.ts) look
-- for the revocation a scheduled row waits for, per invoice shown (its page,
-- GET /v1/accounts/:id, the invoices list). Without an index each such row read
-- revoked_payment_intents whole, a table every card-testing burst adds to,
-- across all invoices. Latest first, as the page reads them.
create index revoked_payment_intents_invoice on revoked_payment_intents (invoice_id, revoked_at);
