// Short pages (signed out, the sign-in confirmation, refusals, errors): the
// shared wording of @vault/web in this app's layout.
import { noticePages, type NoticePages } from '@vault/web';
import { layout } from '../layout.ts';

export function ccFormsNotices(invoicesUrl: string): NoticePages {
  return noticePages({
    layout: (title, body, viewer) => layout({ title, invoicesUrl, ...viewer }, body),
    purpose: 'put a payment card on file and pay your invoices',
    home: { href: '/card', label: 'Your payment card' },
  });
}
