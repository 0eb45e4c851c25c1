// The card form's document around a page's body: styles and scripts from
// files only (the CSP allows no inline code). Its navigation leads back to the
// customer's invoices, on invoicing's pages (INVOICING_WEB_URL).
import { CSRF_FIELD, html, pageDocument, type Html } from '@vault/web';

export interface LayoutOptions {
  title: string;
  /** Signed in: the account and the sign-out button show. */
  accountId?: string;
  /** The session's CSRF token: in a meta tag for page scripts and in the sign-out form. */
  csrf?: string;
  /** Scripts to load, in order (deferred). */
  scripts?: readonly string[];
  /** Invoicing's pages, for the "Invoices" link. */
  invoicesUrl?: string;
  /** Which navigation entry is this page (none on notices). */
  current?: 'card';
}

export function layout(options: LayoutOptions, body: Html): Html {
  const invoices = options.invoicesUrl ? html`<a href="${options.invoicesUrl}/invoices">Invoices</a>` : '';
  const header =
    options.accountId && options.csrf
      ? html`<nav aria-label="Main">${invoices}<a href="/card"${options.current === 'card' ? html` aria-current="page"` : ''}>Payment card</a></nav>
<span class="account">${options.accountId}</span>
<form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${options.csrf}"><button type="submit">Sign out</button></form>`
      : html`<nav aria-label="Main">${invoices}</nav>`;
  const csrfMeta = options.csrf ? html`<meta name="csrf-token" content="${options.csrf}">\n` : '';
  const scripts = (options.scripts ?? []).map((src) => html`\n<script src="${src}" defer></script>`);
  const head = html`${csrfMeta}<link rel="stylesheet" href="/static/card.css">${scripts}`;
  return pageDocument({ title: options.title, head, header, body });
}
