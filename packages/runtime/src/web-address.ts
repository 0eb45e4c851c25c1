// An address where customers open a web app: CC_FORMS_URL (invoicing links to
// it, the gateway sandbox lets its origin frame the card fields) and
// INVOICING_WEB_URL. One parser for every app that reads one: the sandbox
// parsed CC_FORMS_URL apart and took `?query`, `#fragment` and `user@` that
// invoicing refused, so one .env booted one app and stopped the other.

export const WEB_ADDRESS_SHAPE = 'http(s)://host[:port][/path], without a query, fragment, user or spaces';

/**
 * `text` as an absolute http(s) address without a trailing slash (a path
 * kept: the app may live under one), or undefined when it is not one.
 */
export function webAddress(text: string): string | undefined {
  // URL would drop spaces around it and tabs or newlines within: a typo, not an address.
  if (/\s/.test(text) || !URL.canParse(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // A bare `?` or `#` leaves search and hash empty: the text says whether there is one.
  if (text.includes('?') || text.includes('#') || url.username || url.password) return undefined;
  return url.href.replace(/\/+$/, '');
}

/** The origin (scheme, host, port) of an address webAddress gave. */
export const webOrigin = (address: string): string => new URL(address).origin;
