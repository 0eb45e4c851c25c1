// The customer's web UI: money and month formatting, and the page layout
// (the document and the escaping `html` tag are @vault/web's).
import { contentSecurityPolicy, CSRF_FIELD, html, pageDocument, type Html } from '@vault/web';
import { STYLESHEET } from './assets.ts';

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

/** The Content-Security-Policy of every web page: no scripts, styles only from our files, no framing, forms only to us. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy({
  'default-src': [],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': [],
  'base-uri': [],
});

/** The stylesheet, a file of this app (web/assets.ts): the CSP allows no inline style. */
const HEAD = html`<link rel="stylesheet" href="${STYLESHEET.href}">`;

/** Who is signed in on a page: the header shows the account and a sign-out form carrying the session's CSRF token. */
export interface Viewer {
  accountId: string;
  csrf: string;
}

export interface LayoutOptions {
  title: string;
  /** Signed in: the navigation, the account and the sign-out button show. */
  viewer?: Viewer | undefined;
  /** Which navigation entry is this page. */
  current?: 'invoices' | 'usage';
}

/** The whole document around a page's body. */
export function layout(options: LayoutOptions, body: Html): Html {
  const viewer = options.viewer;
  const nav = viewer
    ? html`<nav aria-label="Main">
          <a href="/invoices"${options.current === 'invoices' ? html` aria-current="page"` : ''}>Invoices</a>
          <a href="/usage"${options.current === 'usage' ? html` aria-current="page"` : ''}>Current usage</a>
        </nav>
        <span class="account">${viewer.accountId}</span>
        <form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${viewer.csrf}"><button type="submit">Sign out</button></form>`
    : html`<nav></nav>`;
  return pageDocument({ title: options.title, head: HEAD, header: nav, body });
}
