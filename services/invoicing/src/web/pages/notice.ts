// Short pages (signed out, the sign-in confirmation, refusals, errors): the
// shared wording of @vault/web in this app's layout.
import { noticePages } from '@vault/web';
import { layout } from '../html.ts';

export const notices = noticePages({
  layout: (title, body, viewer) => layout({ title, viewer }, body),
  purpose: 'see its invoices and usage',
  home: { href: '/invoices', label: 'Your invoices' },
});
