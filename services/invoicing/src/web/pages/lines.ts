// An invoice's lines grouped by app, as the platform's invoices show them:
// a heading per app, then each line with its months, unit price and amount.
import type { Invoice, InvoiceLine } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { sumCents } from '../../domain/money.ts';
import { monthName, money } from '../html.ts';

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

function lineRow(line: InvoiceLine, currency: string): Html {
  const adjusts = line.adjusts ? html`<span class="tag" data-adjusts="${line.adjusts}">adjusts ${monthName(line.adjusts)}</span>` : '';
  return html`<tr class="line line-${line.kind}">
<td>${line.description}${adjusts}</td>
<td class="num">${line.quantity}</td>
<td class="num">${line.unit_price === null ? html`<span class="muted">no price</span>` : money(line.unit_price, currency)}</td>
<td class="num amount">${money(line.amount, currency)}</td>
</tr>`;
}

/** One section per app with a subtotal; an invoice without lines says so. */
export function linesByApp(invoice: Invoice): Html {
  const groups = groupByApp(invoice.lines);
  if (groups.length === 0) return html`<p class="muted">No usage in ${monthName(invoice.period)}.</p>`;
  return html`${groups.map(
    ([app, lines]) => html`<section class="app" aria-labelledby="app-${app}">
<h2 id="app-${app}">${app}</h2>
<table class="lines">
<colgroup><col class="description"><col class="months"><col class="price"><col class="amount"></colgroup>
<thead><tr><th>Description</th><th class="num">Months</th><th class="num">Unit price / month</th><th class="num">Amount</th></tr></thead>
<tbody>${lines.map((l) => lineRow(l, invoice.currency))}</tbody>
<tfoot><tr class="subtotal"><td colspan="3">Subtotal for ${app}</td><td class="num">${money(
      sumCents(lines.flatMap((l) => (l.amount === null ? [] : [l.amount]))),
      invoice.currency,
    )}</td></tr></tfoot>
</table>
</section>`,
  )}`;
}

/** "draft", "finalized", "paid", "past due" as a coloured tag. */
export const statusTag = (status: Invoice['status']) => html`<span class="tag status-${status}">${status.replace('_', ' ')}</span>`;
