// The account's finalized invoices, newest first.
import type { CreditBalance, Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { layout, monthName, money, type Viewer } from '../html.ts';
import { statusTag } from './lines.ts';

export function invoiceListPage(viewer: Viewer, invoices: readonly Invoice[], balance: CreditBalance): Html {
  const rows = invoices.map(
    (inv) => html`<tr>
<td><a href="/invoices/${encodeURIComponent(inv.id)}">${inv.number ?? 'draft'}</a></td>
<td>${monthName(inv.period)}</td>
<td>${statusTag(inv.status)}</td>
<td class="num">${money(inv.total, inv.currency)}</td>
</tr>`,
  );
  const list =
    invoices.length === 0
      ? html`<p class="muted">No invoices yet. An invoice is issued after each month ends.</p>`
      : html`<table aria-label="Invoices">
<thead><tr><th>Invoice</th><th>Period</th><th>Status</th><th class="num">Total</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
  return layout(
    { title: 'Invoices', viewer, current: 'invoices' },
    html`<h1>Invoices</h1>
<p>This month's charges so far: <a href="/usage">see current usage</a>.</p>
<p class="balance">Your credit balance: <strong data-credit="${balance.credit}">${money(balance.credit, balance.currency)}</strong>
<span class="muted">${balance.credit === '0.00' ? '' : 'it pays your next invoices first'}</span></p>
<section class="card">${list}</section>`,
  );
}
