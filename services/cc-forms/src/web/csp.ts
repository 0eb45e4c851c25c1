// The card form's Content-Security-Policy: scripts, frames and connections
// only from this app and the gateway's origins (Stripe.js and its iframe);
// no inline script or style; never framed itself.
import { contentSecurityPolicy } from '@vault/web';

export function cardFormCsp(gatewayOrigins: readonly string[]): string {
  const selfAndGateway = ["'self'", ...gatewayOrigins];
  return contentSecurityPolicy({
    'default-src': [],
    'script-src': selfAndGateway,
    'frame-src': selfAndGateway,
    'connect-src': selfAndGateway,
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': [],
    'base-uri': [],
  });
}
