// The card form's document around a page's body: styles and scripts from
// files only (the CSP allows no inline code).
import { CSRF_FIELD, html, type Html } from '@vault/web';

export interface LayoutOptions {
  title: string;
  /** Signed in: the account and the sign-out button show. */
  accountId?: string;
  /** The session's CSRF token: in a meta tag for page scripts and in the sign-out form. */
  csrf?: string;
  /** Scripts to load, in order (deferred). */
  scripts?: readonly string[];
}

export function layout(options: LayoutOptions, body: Html): Html {
  const account =
    options.accountId && options.csrf
      ? html`<nav aria-label="Main"><a href="/card" aria-current="page">Payment card</a></nav>
<span class="account">${options.accountId}</span>
<form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${options.csrf}"><button type="submit">Sign out</button></form>`
      : html`<nav aria-label="Main"></nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${options.csrf ? html`<meta name="csrf-token" content="${options.csrf}">` : ''}
<title>${options.title} · The Vault</title>
<link rel="stylesheet" href="/static/card.css">
${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>\n`)}
</head>
<body>
<header><div class="wrap"><a class="brand" href="/">The Vault</a>${account}</div></header>
<main id="main"><div class="wrap">
${body}
</div></main>
</body>
</html>
`;
}
