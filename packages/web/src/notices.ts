// The short pages both web apps show: signed out, the sign-in confirmation, a
// link refused, a form refused, not found, errors. One wording for both, written
// for the customer (no operator commands): each app gives its layout, what
// signing in is for, and where "home" is.
import { CSRF_FIELD } from './csrf.ts';
import { html, type Html } from './html.ts';

/** Who is signed in on a page: the header shows the account and a sign-out form with the session's CSRF token. */
export interface SignedInViewer {
  accountId: string;
  csrf: string;
}

export interface NoticeApp {
  /** The app's document around a notice (its stylesheet, header, navigation). */
  layout(title: string, body: Html, viewer?: SignedInViewer): Html;
  /** What signing in lets the customer do: "see its invoices and usage". */
  purpose: string;
  /** The signed-in customer's main page, for "back" links. */
  home: { href: string; label: string };
}

export function noticePages(app: NoticeApp) {
  const notice = (title: string, body: Html, viewer?: SignedInViewer): Html =>
    app.layout(title, html`<section class="notice"><h1>${title}</h1>${body}</section>`, viewer);
  // What a customer whose link failed can do: no operator command, just whom to ask.
  const ask = html`<p>A sign-in link works once, for 15 minutes after it is made. Please ask your account's administrator for a new sign-in link.</p>`;
  const back = html`<p><a href="${app.home.href}">${app.home.label}</a></p>`;
  return {
    notice,
    signedOut: () => notice('Sign in to The Vault', html`<p>To ${app.purpose}, open the sign-in link you were given.</p>${ask}`),
    /**
     * What opening a sign-in link shows: whose account it signs in to, and a
     * button. Nothing changes until the customer presses it (a POST with this
     * browser's sign-in form token); the session they have, if any, stays until then.
     */
    signInConfirm(options: {
      accountId: string;
      link: string;
      csrf: string;
      current?: SignedInViewer | undefined;
      /** Where the app goes once signed in (a page of its own it allows), kept through the form. */
      next?: string | undefined;
    }): Html {
      const { accountId, current } = options;
      const now =
        current === undefined
          ? ''
          : current.accountId === accountId
            ? html`<p>You are already signed in as <strong>${accountId}</strong>; continuing starts a new session.</p>`
            : html`<p>You are signed in as <strong>${current.accountId}</strong> now. Continuing signs you out of ${current.accountId}.</p>`;
      return notice(
        `Sign in as ${accountId}?`,
        html`<p>This link signs this browser in to The Vault as <strong>${accountId}</strong>, to ${app.purpose}.</p>
${now}<p>If you did not expect it, close this page: nothing changes until you press the button.</p>
<form method="post" action="/signin"><input type="hidden" name="link" value="${options.link}"><input type="hidden" name="${CSRF_FIELD}" value="${options.csrf}">${options.next === undefined ? '' : html`<input type="hidden" name="next" value="${options.next}">`}<button type="submit" class="primary">Sign in as ${accountId}</button></form>`,
        current,
      );
    },
    /** A used, expired, revoked or unknown link: one page for all (it says nothing of whether a link existed). */
    signInRefused: () =>
      notice('This sign-in link cannot be used', html`<p>It has been used already, has expired, or is not a valid link.</p>${ask}`),
    signInWithoutLink: () => notice('Cannot sign in', html`<p>This address is not a complete sign-in link.</p>${ask}`),
    signInUnavailable: () =>
      notice(
        'Sign-in is not available',
        html`<p>Sign-in links cannot be checked right now: the invoicing service has not set up its sign-in links in this database yet.</p><p>Please try again later.</p>`,
      ),
    signOut: (viewer: SignedInViewer) =>
      notice(
        'Sign out',
        html`<form method="post" action="/signout"><input type="hidden" name="${CSRF_FIELD}" value="${viewer.csrf}"><button type="submit" class="primary">Sign out of ${viewer.accountId}</button></form>`,
        viewer,
      ),
    /** A state-changing request without this page's security token (CSRF). */
    forbidden: (viewer?: SignedInViewer) =>
      notice(
        'This form has expired',
        html`<p>The request did not carry this page's security token, so nothing was changed.</p>${back}`,
        viewer,
      ),
    notFound: (viewer?: SignedInViewer) => notice('Not found', html`<p>There is no such page.</p>${back}`, viewer),
    badRequest: (message: string, viewer?: SignedInViewer) => notice('Bad request', html`<p>${message}</p>${back}`, viewer),
    error: () => notice('Something went wrong', html`<p>The page could not be shown. Please try again in a moment.</p>`),
  };
}

export type NoticePages = ReturnType<typeof noticePages>;
