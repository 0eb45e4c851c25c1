// The invoice pages' stylesheet, a file of this app (static/app.css) read once
// at boot and served under its content hash, so it can be cached for a year:
// a changed file is a new address. The CSP allows styles from files only.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const body = readFileSync(new URL('../../static/app.css', import.meta.url), 'utf8');

export const STYLESHEET = {
  href: `/assets/app.${createHash('sha256').update(body).digest('hex').slice(0, 16)}.css`,
  type: 'text/css; charset=utf-8',
  body,
  /** Immutable: the address changes with the content. */
  cacheControl: 'public, max-age=31536000, immutable',
} as const;
