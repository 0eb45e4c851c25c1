// A stray payment a charging pass let go (save-payment.ts releaseRefundedStray: given back in full, the
// charge row's PaymentIntent cleared and a new one made), found again for `vault refund-stray` run after
// it. Nothing of ours keeps it (the row holds the new PaymentIntent), so the gateway is asked: the
// PaymentIntents of the account's customer made for this invoice (metadata invoice_id) that succeeded
// and are not the one the row holds, read back; the one given back in full is it.
import type pg from 'pg';
import type { ChargeGateway, ReportedDispute, ReportedIntent } from './gateway-calls.ts';
import type { RefundGateway } from './refund-gateway.ts';
import { type GivenBack, givenBack } from './stray-given-back.ts';

export interface ReleasedStray {
  intent: ReportedIntent;
  disputes: ReportedDispute[];
  back: GivenBack;
}

type Deps = {
  pool: pg.Pool;
  gateway: Pick<ChargeGateway, 'retrievePaymentIntent' | 'listDisputes'> & Pick<RefundGateway, 'listPaymentIntents'>;
};

const codeOf = (e: { error: { kind: string; code?: string } }) => e.error.code ?? e.error.kind;

/** The stray let go, given back in full; none (no card on file to name the customer, or none such); or no answer. */
export async function releasedStray(
  deps: Deps,
  invoiceId: string,
  accountId: string,
  held: string | null,
): Promise<{ found: ReleasedStray | null } | { error: string }> {
  // cc-forms' customer of the account (made once per account, kept with its card on file).
  const { rows } = await deps.pool.query<{ customer_id: string }>('select customer_id from cc_forms.cards_on_file where account_id = $1', [
    accountId,
  ]);
  const customer = rows[0]?.customer_id;
  if (!customer) return { found: null };
  const listed = await deps.gateway.listPaymentIntents(customer);
  if ('error' in listed) return { error: codeOf(listed) };
  const others = listed.filter((pi) => pi.invoiceId === invoiceId && pi.id !== held && pi.status === 'succeeded');
  for (const other of others) {
    const intent = await deps.gateway.retrievePaymentIntent(other.id);
    if ('error' in intent) return { error: codeOf(intent) };
    let disputes: ReportedDispute[] = [];
    if (intent.disputed) {
      const found = await deps.gateway.listDisputes(other.id);
      if ('error' in found) return { error: codeOf(found) };
      disputes = found;
    }
    const back = givenBack(intent, disputes);
    if (back.whole) return { found: { intent, disputes, back } };
  }
  return { found: null };
}
