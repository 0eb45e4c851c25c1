// The customer's web UI: money and month formatting, and the page layout
// (the document and the escaping `html` tag are @vault/web's).
import { contentSecurityPolicy, html, pageDocument, trusted, type Html } from '@vault/web';

/**
 * "$1,234.50" from the decimal string "1234.50"; "-$3.61" for a credit; null
 * (unpriced) as an em dash. Strings only: money is never a float.
 */
export function money(amount: string | null, currency = 'USD'): string {
  if (amount === null) return '—';
  const match = /^(-?)(\d+)\.(\d{2})$/.exec(amount);
  if (!match) throw new RangeError(`not a money amount: ${JSON.stringify(amount)}`);
  const [, sign, units, cents] = match;
  const grouped = units!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const symbol = currency === 'USD' ? '$' : `${currency} `;
  return `${sign}${symbol}${grouped}.${cents}`;
}

/** "October 2026" from "2026-10". */
export function monthName(periodKey: string): string {
  const [year, month] = periodKey.split('-');
  const names = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  return `${names[Number(month) - 1] ?? periodKey} ${year}`;
}

/** The Content-Security-Policy of every web page: no scripts, no framing, forms only to us. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy({
  'default-src': [],
  'style-src': ["'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': [],
  'base-uri': [],
});

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;background:#f5f6fa}
header{background:#3f3a6d;color:#fff;padding:.8rem 0}
header .wrap{display:flex;align-items:center;gap:1.5rem}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:700;letter-spacing:.02em;font-size:1.1rem}
header nav{display:flex;gap:1rem;flex:1}
header nav a{opacity:.85}header nav a[aria-current=page]{opacity:1;border-bottom:2px solid #fff}
header form{margin:0}
header .account{color:#d9d6f2;font-size:.9rem}
header button{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.6);border-radius:4px;padding:.25rem .7rem;cursor:pointer;font:inherit}
.wrap{max-width:56rem;margin:0 auto;padding:0 1.25rem}
main{padding:1.5rem 0 3rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.6rem 0 .5rem;color:#3f3a6d}
.card{background:#fff;border:1px solid #e1e3ec;border-radius:6px;padding:1rem 1.25rem;margin-bottom:1rem}
.card>:first-child,.card>section.app:first-child>h2{margin-top:0}.card>:last-child{margin-bottom:0}
pre{background:#eef0f5;padding:.5rem .75rem;border-radius:4px;overflow-x:auto;font-size:.9em}
table{width:100%;border-collapse:collapse}
table.lines{table-layout:fixed}table.lines col.months,table.lines col.price{width:9rem}table.lines col.amount{width:8rem}
table.lines td:first-child{overflow-wrap:anywhere}
th,td{padding:.45rem .5rem;border-bottom:1px solid #eceef4;text-align:left;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#6b7080;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.line-adjustment .tag{display:table;margin:.25rem 0 0}
tr.subtotal td{border-bottom:0;font-weight:600}
.total{display:flex;justify-content:space-between;align-items:baseline;font-size:1.25rem;font-weight:700;padding:.75rem .5rem 0}
.muted{color:#6b7080}
.tag{display:inline-block;font-size:.75rem;padding:0 .4rem;border-radius:3px;background:#eef0ff;color:#3f3a6d;margin-left:.4rem}
.status-finalized,.status-paid{background:#e6f4ea;color:#1e6b34}.status-past_due{background:#fde8e8;color:#9b1c1c}.status-draft{background:#fff4e0;color:#8a5300}
.holds{border-color:#f0c36d;background:#fffaf0}
.notice{max-width:32rem;margin:3rem auto}
code{background:#eef0f5;padding:.1rem .3rem;border-radius:3px;font-size:.9em}
svg.chart{width:100%;height:auto;display:block}
svg.chart .bar{fill:#6f63c7}svg.chart .axis{stroke:#c9ccd8}svg.chart text{font-size:11px;fill:#6b7080}
.projection{font-size:1.1rem}
a{color:#4b3fb5}
`;

/** Inline: the invoice pages load no files (their CSP allows inline styles only). */
const HEAD = html`<style>${trusted(STYLE)}</style>`;

export interface LayoutOptions {
  title: string;
  /** Signed in: the navigation and the sign-out button show. */
  accountId?: string;
  /** Which navigation entry is this page. */
  current?: 'invoices' | 'usage';
}

/** The whole document around a page's body. */
export function layout(options: LayoutOptions, body: Html): Html {
  const nav = options.accountId
    ? html`<nav aria-label="Main">
          <a href="/invoices"${options.current === 'invoices' ? html` aria-current="page"` : ''}>Invoices</a>
          <a href="/usage"${options.current === 'usage' ? html` aria-current="page"` : ''}>Current usage</a>
        </nav>
        <span class="account">${options.accountId}</span>
        <form method="post" action="/signout"><button type="submit">Sign out</button></form>`
    : html`<nav></nav>`;
  return pageDocument({ title: options.title, head: HEAD, header: nav, body });
}
