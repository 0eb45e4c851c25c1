// Whether the browser talks to an app over https: the request says so (TLS
// ended here, or at a proxy TRUST_PROXY names), or the app's configured public
// address does (INVOICING_WEB_URL, CC_FORMS_URL). Behind a TLS-ending router
// left untrusted every request looks like plain http: going by the request
// alone, the cookies lost `Secure` and `__Host-` and answers lost HSTS.

/** What an app's hooks need of a request (Fastify's fit). */
export interface TransportRequest {
  readonly protocol: string;
}

/** True when `address` (an app's configured public address) is https. */
export const isHttpsAddress = (address: string | undefined): boolean => address !== undefined && /^https:/i.test(address);

/** True when the browser reaches the app over https: by the request, or by its public address. */
export const overHttps = (req: TransportRequest, publicUrl: string | undefined): boolean =>
  req.protocol === 'https' || isHttpsAddress(publicUrl);

/**
 * At boot: a public address that is https while TRUST_PROXY is unset means TLS
 * ends at a proxy the app does not believe, so rate limits and logs see the
 * proxy's address, not the customer's. Logged once, at warn (`web.proxy_untrusted`).
 */
export function warnUntrustedProxy(
  log: { warn(event: string, fields?: Record<string, string>): void },
  publicAddress: { variable: string; url: string | undefined },
  trustProxy: boolean | readonly string[] | undefined,
): boolean {
  const untrusted = trustProxy === undefined || trustProxy === false || (Array.isArray(trustProxy) && trustProxy.length === 0);
  if (!isHttpsAddress(publicAddress.url) || !untrusted) return false;
  log.warn('web.proxy_untrusted', {
    variable: 'TRUST_PROXY',
    url: publicAddress.url!,
    hint: `${publicAddress.variable} is https but TRUST_PROXY is unset: cookies are Secure by that address, but rate limits and logs see the proxy's address, not the customer's; set TRUST_PROXY to the proxy's addresses (or true)`,
  });
  return true;
}
