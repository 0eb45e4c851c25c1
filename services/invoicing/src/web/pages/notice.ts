// Short pages (signed out, the sign-in confirmation, refusals, errors): the
// shared wording of @vault/web in this app's layout.
import { html, noticePages } from '@vault/web';
import { layout, type Viewer } from '../html.ts';

export const notices = noticePages({
  layout: (title, body, viewer) => layout({ title, viewer }, body),
  purpose: 'see its invoices and usage',
  home: { href: '/invoices', label: 'Your invoices' },
});

/** GET /card-form past its limit of unused links (HAND_OVER_LINKS_LIMIT): a 429, no link. */
export const tooManyHandOvers = (viewer: Viewer) =>
  notices.notice(
    'Too many card form links',
    html`<p>This session has opened the card form many times in the last 15 minutes without using the links. Please wait a few minutes, then try again.</p><p><a href="/invoices">Your invoices</a></p>`,
    viewer,
  );
