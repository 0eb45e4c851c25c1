// The document around every server-rendered page, and sending one: the same
// head (no Referer ever leaves a page), title and header bar in both web apps.
import { html, type Html, type Interpolated } from './html.ts';

export interface DocumentParts {
  /** "Invoices" → "<title>Invoices · The Vault</title>". */
  title: string;
  /** After the title: the app's stylesheet, scripts, meta tags. */
  head?: Interpolated;
  /** In the header bar after the brand: navigation, the account, sign-out. */
  header?: Interpolated;
  body: Html;
}

export function pageDocument(parts: DocumentParts): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${parts.title} · The Vault</title>
${parts.head}
</head>
<body>
<header><div class="wrap"><a class="brand" href="/">The Vault</a>${parts.header}</div></header>
<main id="main"><div class="wrap">
${parts.body}
</div></main>
</body>
</html>
`;
}

/** What sending a page needs of a reply (Fastify's fits). */
export interface PageReply<R> {
  code(status: number): { type(contentType: string): { send(payload: string): R } };
}

export function sendPage<R>(reply: PageReply<R>, status: number, body: Html): R {
  return reply.code(status).type('text/html; charset=utf-8').send(body.toString());
}

/**
 * A 4xx's words for a page: fastify's own (a body that is not what the form
 * sends, an unknown content type) are its wording, not the customer's; ours are.
 */
export function pageErrorMessage(err: { code?: string | undefined; message: string; statusCode?: number | undefined }): string {
  if (err.statusCode === 413) return 'This request is too large for this page.';
  if (err.code?.startsWith('FST_')) return 'This request could not be read: it is not what this page sends. Please go back and try again.';
  return err.message;
}

/** An error's own 4xx/5xx status, else 500: the page to show and whether to log it. */
export function errorStatus(err: { statusCode?: number | undefined }): number {
  const status = err.statusCode;
  return status !== undefined && status >= 400 && status < 600 ? status : 500;
}
