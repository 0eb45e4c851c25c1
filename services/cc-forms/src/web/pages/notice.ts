// Short pages: signed out, sign-in refused or unavailable, errors.
import { CSRF_FIELD, html, type Html } from '@vault/web';
import { layout } from '../layout.ts';

/** A page with a heading and a few sentences. */
export function noticePage(title: string, body: Html, signedIn?: { accountId: string; csrf: string }): Html {
  return layout({ title, ...signedIn }, html`<section class="panel notice"><h1>${title}</h1>${body}</section>`);
}

const HOW_TO_SIGN_IN = html`<p>To put a payment card on file, open your sign-in link: the same link that opens your invoices.</p>
<p>Ask the account's operator for one. This prints a token:</p>
<pre>vault token create --account ACCOUNT_ID</pre>
<p>and the link is this site's address followed by:</p>
<pre>/signin?token=TOKEN</pre>`;

export const signedOutPage = () => noticePage('Sign in to The Vault', HOW_TO_SIGN_IN);

export const signInRefusedPage = () =>
  noticePage(
    'Cannot sign in',
    html`<p>This sign-in link is not valid: its token is unknown, mistyped, or not an account's token.</p>${HOW_TO_SIGN_IN}`,
  );

export const signInWithoutTokenPage = () => noticePage('Cannot sign in', html`<p>This sign-in link has no token.</p>${HOW_TO_SIGN_IN}`);

export const signInUnavailablePage = () =>
  noticePage(
    'Sign-in is not available',
    html`<p>Sign-in links cannot be checked right now: the invoicing service has not set up its tokens in this database yet.</p><p>Please try again later.</p>`,
  );

export const forbiddenPage = () =>
  noticePage(
    'This form has expired',
    html`<p>The request did not carry this page's security token, so nothing was changed.</p><p><a href="/card">Back to your payment card</a></p>`,
  );

export const notFoundPage = () => noticePage('Not found', html`<p>There is no such page.</p><p><a href="/card">Your payment card</a></p>`);

export const badRequestPage = (message: string) =>
  noticePage('Bad request', html`<p>${message}</p><p><a href="/card">Your payment card</a></p>`);

export const errorPage = () => noticePage('Something went wrong', html`<p>The page could not be shown. Please try again in a moment.</p>`);

export const signOutPage = (accountId: string, csrf: string) =>
  noticePage(
    'Sign out',
    html`<form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${csrf}"><button type="submit">Sign out of ${accountId}</button></form>`,
    { accountId, csrf },
  );
