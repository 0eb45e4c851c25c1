// Current usage: the month's draft grouped by app, why it is held if it is,
// usage per day as a chart, and the projected month-end amount.
import type { Hold, Invoice } from '@vault/contracts';
import { html, type Html } from '@vault/web';
import type { UsageDay } from '../../billing/types.ts';
import type { PaymentState } from '../../charging/payment-state.ts';
import { parsePeriod } from '../../domain/period.ts';
import type { LineEnd } from '../stops.ts';
import { usageChart } from '../chart.ts';
import { layout, monthName, money, type Viewer } from '../html.ts';
import { linesByApp, statusTag } from './lines.ts';

export interface UsageView {
  viewer: Viewer;
  draft: Invoice;
  days: readonly UsageDay[];
  /** This month's projection; absent when previewing another month. */
  projection?: Invoice;
  /** The month before the one shown, for a link to preview it; none before 0001-01. */
  previous?: string | undefined;
  /** The month shown is this month (not a preview). */
  isCurrent: boolean;
  /** How the usage behind each credit adjustment ended (stops.ts). */
  stops: ReadonlyMap<string, LineEnd>;
  /** The month is before the usage horizon: its usage per day is archived. */
  archived?: boolean;
  /** A finalized month's payment: its tag says what the invoice page's does. */
  payment?: PaymentState | undefined;
}

const HOLD_REASONS: Record<Hold['reason'], string> = {
  gap: 'usage data is incomplete (an event is missing)',
  unpriced: 'a product has no price yet',
  unowned: 'an app had usage while it had no owner',
};

function holdsList(holds: readonly Hold[]): Html {
  if (holds.length === 0) return html``;
  return html`<section class="card holds" aria-labelledby="holds-title">
<h2 id="holds-title">On hold</h2>
<p>This invoice will not be finalized until these are resolved:</p>
<ul>${holds.map((h) => html`<li><strong>${h.app_id}</strong>: ${HOLD_REASONS[h.reason]} <span class="muted">(${h.detail})</span></li>`)}</ul>
</section>`;
}

/** "← November 2026 · current month": each only when there is one to go to. */
function monthLinks(view: UsageView): Html {
  const links = [
    view.previous === undefined ? undefined : html`<a href="/usage?period=${view.previous}">← ${monthName(view.previous)}</a>`,
    view.isCurrent ? undefined : html`<a href="/usage">current month</a>`,
  ].filter((l) => l !== undefined);
  return links.length === 0 ? html`` : html`<p class="muted">${links.map((l, i) => (i === 0 ? l : html` · ${l}`))}</p>`;
}

export function usagePage(view: UsageView): Html {
  const { draft } = view;
  const month = monthName(draft.period);
  const heading = view.isCurrent ? `Current usage — ${month}` : `Usage — ${month}`;
  const finalized =
    draft.status !== 'draft'
      ? html`<p>This month is invoiced: <a href="/invoices/${encodeURIComponent(draft.id)}">invoice ${draft.number}</a>.</p>`
      : '';
  const projection = view.projection
    ? html`<p class="projection">Projected at month end: <strong data-projection="${view.projection.total}">${money(view.projection.total, view.projection.currency)}</strong>
<span class="muted">if everything running now keeps running</span></p>`
    : '';
  return layout(
    { title: heading, viewer: view.viewer, current: 'usage' },
    html`<h1>${heading} ${statusTag(draft, view.payment)}</h1>
<section class="card">
<p class="projection">${view.isCurrent ? 'So far this month' : 'Total'}: <strong data-total="${draft.total}">${money(draft.total, draft.currency)}</strong>
${draft.credit_applied === '0.00' ? '' : html`<span class="muted" data-credit-applied="${draft.credit_applied}">after ${money(draft.credit_applied, draft.currency)} of your credit balance, of ${money(draft.subtotal, draft.currency)}</span>`}
${draft.subtotal.startsWith('-') ? html`<span class="muted" data-subtotal="${draft.subtotal}">the credits exceed the charges: the rest, ${money(draft.subtotal.slice(1), draft.currency)}, goes to your credit balance</span>` : ''}</p>
${projection}
${finalized}
${monthLinks(view)}
</section>
${holdsList(draft.holds)}
<section class="card" aria-labelledby="chart-title">
<h2 id="chart-title">Usage per day</h2>
${view.archived ? html`<p class="muted">The usage per day of ${month} is archived; its invoice shows what it charged.</p>` : usageChart(view.days, draft.currency, month, parsePeriod(draft.period).seconds / 86_400)}
</section>
<section class="card" aria-label="Lines">
${linesByApp(draft, view.stops)}
</section>`,
  );
}
