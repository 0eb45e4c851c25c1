// The headers every server-rendered page carries, and a Content-Security-Policy
// written from a list of directives (so an origin from configuration can never
// smuggle in another directive).
import { overHttps, type TransportRequest } from './public-address.ts';

/** Directive name → its sources, in order; an empty list is `'none'`. */
export type CspDirectives = Record<string, readonly string[]>;

const SOURCE = /^[^\s;,]+$/;

/** `default-src 'none'; script-src 'self' http://localhost:3003; …` */
export function contentSecurityPolicy(directives: CspDirectives): string {
  return Object.entries(directives)
    .map(([name, sources]) => {
      if (!/^[a-z-]+$/.test(name)) throw new RangeError(`not a CSP directive: ${JSON.stringify(name)}`);
      const bad = sources.find((s) => !SOURCE.test(s));
      if (bad !== undefined) throw new RangeError(`not a CSP source: ${JSON.stringify(bad)}`);
      return `${name} ${sources.length > 0 ? [...new Set(sources)].join(' ') : "'none'"}`;
    })
    .join('; ');
}

/**
 * The page headers besides the CSP: never cached (pages show account data),
 * never sniffed, never framed, and never a Referer (a sign-in link's address
 * holds the link's secret).
 */
export function pageHeaders(csp: string): Record<string, string> {
  return {
    'content-security-policy': csp,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
}

/**
 * Strict-Transport-Security for an answer that went out over https (directly,
 * through a trusted proxy, or to an https public address): a year of https only
 * for this host. Never on plain http (local development), where browsers ignore it anyway.
 */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

/** On an answer over https: by the request, or by the app's https public address (public-address.ts). */
export function strictTransportSecurity(
  req: TransportRequest,
  reply: { header(name: string, value: string): unknown },
  publicUrl?: string,
): void {
  if (overHttps(req, publicUrl)) reply.header('strict-transport-security', STRICT_TRANSPORT_SECURITY);
}
