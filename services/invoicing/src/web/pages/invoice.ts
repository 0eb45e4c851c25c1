// One finalized invoice, grouped by app, with its total.
import type { Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import { layout, monthName, type Viewer } from '../html.ts';
import { invoiceSums, linesByApp, statusTag } from './lines.ts';

export function invoicePage(viewer: Viewer, invoice: Invoice): Html {
  return layout(
    { title: `Invoice ${invoice.number ?? invoice.id}`, viewer, current: 'invoices' },
    html`<p><a href="/invoices">← All invoices</a></p>
<h1>Invoice ${invoice.number ?? ''} ${statusTag(invoice.status)}</h1>
<section class="card">
<p class="muted">Account ${invoice.account_id} · ${monthName(invoice.period)} (${invoice.period}) · ${invoice.currency}</p>
${linesByApp(invoice)}
${invoiceSums(invoice)}
</section>`,
  );
}
