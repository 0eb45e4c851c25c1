// The icon both web apps serve at /favicon.ico (static/favicon.ico, 32×32):
// browsers ask for it on every site, and a 401 or 404 there is noise in every
// log and a broken tab icon.
import { readFileSync } from 'node:fs';

export const FAVICON = {
  path: '/favicon.ico',
  type: 'image/x-icon',
  body: readFileSync(new URL('../static/favicon.ico', import.meta.url)),
  /** A day: it is not content-addressed, but rarely changes. */
  cacheControl: 'public, max-age=86400',
} as const;
