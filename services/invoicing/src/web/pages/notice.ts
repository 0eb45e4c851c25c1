// Short pages: signed out, sign-in refused, not found, errors.
import { html, type Html } from '@vault/web';
import { layout } from '../html.ts';

/** A page with a heading and a few sentences. */
export function noticePage(title: string, body: Html, accountId?: string): Html {
  return layout({ title, accountId }, html`<section class="card notice"><h1>${title}</h1>${body}</section>`);
}

const HOW_TO_SIGN_IN = html`<p>To see your invoices and current usage, open your sign-in link.</p>
<p>Ask the account's operator for one. This prints a token:</p>
<pre>vault token create --account ACCOUNT_ID</pre>
<p>and the link is this site's address followed by:</p>
<pre>/signin?token=TOKEN</pre>`;

export const signedOutPage = () => noticePage('Sign in to The Vault', HOW_TO_SIGN_IN);

/** The sign-in link's token is unknown, or it is not one account's customer token. */
export function signInRefusedPage(reason: 'unknown' | 'not-an-account'): Html {
  const why =
    reason === 'unknown'
      ? html`<p>This sign-in link is not valid: its token is unknown or was mistyped.</p>`
      : html`<p>This token is a finance or operator token. The web pages show one account's invoices; use this token with the API instead.</p>`;
  return noticePage('Cannot sign in', html`${why}${HOW_TO_SIGN_IN}`);
}

export const notFoundPage = (accountId?: string) =>
  noticePage('Not found', html`<p>There is no such page.</p><p><a href="/invoices">Your invoices</a></p>`, accountId);

export const badRequestPage = (message: string, accountId?: string) =>
  noticePage('Bad request', html`<p>${message}</p><p><a href="/invoices">Your invoices</a></p>`, accountId);

export const errorPage = () => noticePage('Something went wrong', html`<p>The page could not be shown. Please try again in a moment.</p>`);
