// An invoice's lines grouped by app, as the platform's invoices show them:
// a heading per app, then each line with its months, unit price and amount.
import type { Invoice, InvoiceLine } from '@vault/contracts';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { html, type Html } from '@vault/web';
import type { PaymentState } from '../../charging/payment-state.ts';
import { sumCents } from '../../domain/money.ts';
import { monthName, money } from '../html.ts';
import { stopKey, type LineEnd } from '../stops.ts';
import { paymentLabel } from './payment.ts';

/** Lines by app, in the invoice's order (lines come sorted by app). */
function groupByApp(lines: readonly InvoiceLine[]): [string, InvoiceLine[]][] {
  const groups = new Map<string, InvoiceLine[]>();
  for (const line of lines) {
    const group = groups.get(line.app_id);
    if (group) group.push(line);
    else groups.set(line.app_id, [line]);
  }
  return [...groups];
}

/** "Oct 2" (UTC): the day usage stopped (or changed product, or the app moved), within the month the line adjusts. */
const shortDay = (at: Date) => DateTime.fromJSDate(at, { zone: 'utc' }).toFormat('LLL d');

/**
 * Why a line is there, in words, when its description alone does not say
 * (adjustments, carried amounts, a capped line). `end`: how the usage behind a
 * credit ended (metering's intervals know it; stops.ts): a stop names its day;
 * a plan change or a resize is no stop, and says so with its day; the app
 * leaving the account is no stop, and names the day only when another account
 * took it over then. Without an end (the usage may have run to the month's
 * end), the words name none.
 */
export function whyLine(line: InvoiceLine, end?: LineEnd): string | undefined {
  const month = line.adjusts ? monthName(line.adjusts) : '';
  if (line.kind === 'adjustment') {
    const credit = (line.amount ?? '').startsWith('-');
    if (credit && end?.kind === 'stopped') {
      const stopped = line.product.startsWith('addon:') ? 'was removed' : 'stopped';
      return `${line.key} ${stopped} on ${shortDay(end.at)}, earlier than billed on the ${month} invoice (we learned of it after that invoice was issued): this gives the difference back.`;
    }
    if (credit && end?.kind === 'changed') {
      const what = line.product.startsWith('addon:') ? 'plan' : 'size';
      return `${line.key} changed ${what} on ${shortDay(end.at)} (we learned of it after the ${month} invoice was issued), so its former ${what} comes to less for ${month} than that invoice billed: this gives the difference back.`;
    }
    if (credit && end?.kind === 'moved') {
      return end.to
        ? `The app moved to another account on ${shortDay(end.to)} (we learned of it after the ${month} invoice was issued), so ${line.key} comes to less for ${month} than that invoice billed: this gives the difference back.`
        : `${line.key} comes to less for ${month} than the ${month} invoice billed (the platform told us after that invoice was issued): this gives the difference back.`;
    }
    if (line.amount === null)
      return `${line.key} ran in ${month} beyond what the ${month} invoice billed (the platform told us after that invoice was issued), on a product without a price yet: this invoice waits for its price.`;
    return credit
      ? `${line.key} ran less in ${month} than the ${month} invoice billed (the platform told us after that invoice was issued): this gives the difference back.`
      : `${line.key} ran more in ${month} than the ${month} invoice billed (the platform told us after that invoice was issued): this charges the difference.`;
  }
  if (line.kind === 'carried') return `The ${month} invoice was below the smallest amount we can charge to a card, so it is added here.`;
  if (Number(line.quantity) > 1)
    return `Used for more than a month (${line.quantity} months, overlapping restarts): capped at the monthly price.`;
  return undefined;
}

function lineRow(line: InvoiceLine, currency: string, stops: ReadonlyMap<string, LineEnd>): Html {
  const tag = line.kind === 'carried' ? 'carried from' : 'adjusts';
  const adjusts = line.adjusts ? html`<span class="tag" data-adjusts="${line.adjusts}">${tag} ${monthName(line.adjusts)}</span>` : '';
  const why = whyLine(line, stops.get(stopKey(line)));
  // data-label: the column's name, shown beside each value when a narrow screen stacks the row.
  return html`<tr class="line line-${line.kind}">
<td class="description">${line.description}${adjusts}${why ? html`<span class="why">${why}</span>` : ''}</td>
<td class="num" data-label="Months">${line.quantity}</td>
<td class="num" data-label="Unit price / month">${line.unit_price === null ? html`<span class="muted">no price</span>` : money(line.unit_price, currency)}</td>
<td class="num amount" data-label="Amount">${money(line.amount, currency)}</td>
</tr>`;
}

/** One section per app with a subtotal; an invoice without lines says so. */
export function linesByApp(invoice: Invoice, stops: ReadonlyMap<string, LineEnd> = new Map()): Html {
  const groups = groupByApp(invoice.lines);
  if (groups.length === 0) return html`<p class="muted">No usage in ${monthName(invoice.period)}.</p>`;
  return html`${groups.map(
    ([app, lines]) => html`<section class="app" aria-labelledby="app-${app || 'account'}">
<h2 id="app-${app || 'account'}">${app || 'Carried from earlier invoices'}</h2>
<table class="lines">
<colgroup><col class="description"><col class="months"><col class="price"><col class="amount"></colgroup>
<thead><tr><th>Description</th><th class="num">Months</th><th class="num">Unit price / month</th><th class="num">Amount</th></tr></thead>
<tbody>${lines.map((l) => lineRow(l, invoice.currency, stops))}</tbody>
<tfoot><tr class="subtotal"><td colspan="3">Subtotal for ${app || 'carried amounts'}</td><td class="num">${money(
      sumCents(lines.flatMap((l) => (l.amount === null ? [] : [l.amount]))),
      invoice.currency,
    )}</td></tr></tfoot>
</table>
</section>`,
  )}`;
}

/**
 * "draft", "finalized", "paid", "past due", "refunded", "carried" as a coloured tag; the payment's label
 * when it says more; "paid, $30.00 refunded" when part of a paid invoice went back to the card.
 */
export function statusTag(invoice: Pick<Invoice, 'status' | 'currency' | 'amount_refunded'>, payment?: PaymentState): Html {
  const { status } = invoice;
  const label = payment && paymentLabel(payment);
  // The label's colour is its own: a declined card is no "finalized" green.
  const tone = label ? payment!.kind : status;
  // "paid" beside the whole total misled the customer once part was refunded; whole, the status is "refunded".
  const refunded =
    status === 'paid' && new Decimal(invoice.amount_refunded).gt(0)
      ? html`, <span data-partly-refunded="${invoice.amount_refunded}">${money(invoice.amount_refunded, invoice.currency)} refunded</span>`
      : '';
  return html`<span class="tag status-${tone}">${label ?? status.replace(/_/g, ' ')}${refunded}</span>`;
}

/**
 * What the total is called: charged only once it was; carried when below the smallest charge
 * (carried already, or finalized and waiting for the next invoice: the payment state says so,
 * as the payment section does); else due.
 */
function totalLabel(status: Invoice['status'], payment: PaymentState | undefined): string {
  if (status === 'paid' || status === 'refunded') return 'Amount charged';
  const carried = payment
    ? payment.kind === 'none' && (payment.why === 'below_minimum' || payment.why === 'carried')
    : status === 'carried';
  return carried ? 'Carried to your next invoice' : 'Amount due';
}

/** Subtotal, credit applied, the total and what of it was refunded, under an invoice's lines; `payment` names the total. */
export function invoiceSums(invoice: Invoice, payment?: PaymentState): Html {
  const c = invoice.currency;
  const negative = invoice.subtotal.startsWith('-');
  const rows = [
    html`<div class="sum"><span>Subtotal</span><span data-subtotal="${invoice.subtotal}">${money(invoice.subtotal, c)}</span></div>`,
    html`<div class="sum"><span>Credit applied</span><span data-credit-applied="${invoice.credit_applied}">${money(invoice.credit_applied === '0.00' ? '0.00' : `-${invoice.credit_applied}`, c)}</span></div>`,
  ];
  // Part of the amount charged, so under it: between the credit and the total it would read as a step of the sum.
  const refunded =
    invoice.amount_refunded === '0.00'
      ? ''
      : html`<div class="sum"><span>of which refunded to your card</span><span data-refunded="${invoice.amount_refunded}">${money(invoice.amount_refunded, c)}</span></div>`;
  const notes = [
    negative
      ? html`<p class="muted">The credits exceed the charges: the rest, ${money(invoice.subtotal.slice(1), c)}, goes to your credit balance for your next invoices.</p>`
      : '',
    invoice.status === 'carried'
      ? html`<p class="muted">This amount is below the smallest charge we can make to a card: it is added to your next invoice.</p>`
      : '',
  ];
  return html`${rows}<div class="total"><span>${totalLabel(invoice.status, payment)}</span><span data-total="${invoice.total}">${money(invoice.total, c)}</span></div>${refunded}${notes}`;
}
