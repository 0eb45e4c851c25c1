// Short pages: signed out, the sign-in confirmation, a link refused, a form
// refused, not found, errors. Written for the customer: no operator commands.
import { CSRF_FIELD, html, type Html } from '@vault/web';
import { layout, type Viewer } from '../html.ts';

/** A page with a heading and a few sentences. */
export function noticePage(title: string, body: Html, viewer?: Viewer): Html {
  return layout({ title, viewer }, html`<section class="card notice"><h1>${title}</h1>${body}</section>`);
}

const ASK_FOR_A_LINK = html`<p>A sign-in link works once, for 15 minutes after it is made. Please ask your account's administrator for a new sign-in link.</p>`;

export const signedOutPage = () =>
  noticePage(
    'Sign in to The Vault',
    html`<p>To see your invoices and current usage, open the sign-in link you were given.</p>${ASK_FOR_A_LINK}`,
  );

/**
 * What opening a sign-in link shows: whose account it signs in to, and a
 * button. Nothing changes until the customer presses it (a POST with this
 * browser's sign-in form token); the session they have, if any, stays until then.
 */
export function signInConfirmPage(options: { accountId: string; link: string; csrf: string; current?: Viewer | undefined }): Html {
  const { accountId, current } = options;
  const now =
    current === undefined
      ? ''
      : current.accountId === accountId
        ? html`<p>You are already signed in as <strong>${accountId}</strong>; continuing starts a new session.</p>`
        : html`<p>You are signed in as <strong>${current.accountId}</strong> now. Continuing signs you out of ${current.accountId}.</p>`;
  return noticePage(
    `Sign in as ${accountId}?`,
    html`<p>This link signs this browser in to The Vault as <strong>${accountId}</strong>, to see its invoices and usage.</p>
${now}<p>If you did not expect it, close this page: nothing changes until you press the button.</p>
<form method="post" action="/signin"><input type="hidden" name="link" value="${options.link}"><input type="hidden" name="${CSRF_FIELD}" value="${options.csrf}"><button type="submit" class="primary">Sign in as ${accountId}</button></form>`,
    current,
  );
}

/** A used, expired, revoked or unknown link: one page for all (it says nothing of whether a link existed). */
export const signInRefusedPage = () =>
  noticePage(
    'This sign-in link cannot be used',
    html`<p>It has been used already, has expired, or is not a valid link.</p>${ASK_FOR_A_LINK}`,
  );

export const signInWithoutLinkPage = () =>
  noticePage('Cannot sign in', html`<p>This address is not a complete sign-in link.</p>${ASK_FOR_A_LINK}`);

/** A state-changing request without this page's security token (CSRF). */
export const forbiddenPage = (viewer?: Viewer) =>
  noticePage(
    'This form has expired',
    html`<p>The request did not carry this page's security token, so nothing was changed.</p><p><a href="/">Back to The Vault</a></p>`,
    viewer,
  );

export const notFoundPage = (viewer?: Viewer) =>
  noticePage('Not found', html`<p>There is no such page.</p><p><a href="/invoices">Your invoices</a></p>`, viewer);

export const badRequestPage = (message: string, viewer?: Viewer) =>
  noticePage('Bad request', html`<p>${message}</p><p><a href="/invoices">Your invoices</a></p>`, viewer);

export const errorPage = () => noticePage('Something went wrong', html`<p>The page could not be shown. Please try again in a moment.</p>`);
