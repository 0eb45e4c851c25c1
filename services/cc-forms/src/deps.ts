// What cc-forms' features need, built by main.ts (or a test) and handed to
// app.ts, which passes it on to the routes. Routes import this type, never app.ts.
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { CardGateway } from './cards/gateway.ts';

export interface CcFormsDeps {
  pool: pg.Pool;
  gateway: CardGateway;
  log: Logger;
  /** CARD_ATTEMPTS_PER_HOUR */
  attemptsPerHour: number;
  /** Gateway calls an account's requests may cause per minute (main.ts: GATEWAY_LOOKUPS_PER_MINUTE). */
  lookupsPerMinute: number;
  /** What the page hands Stripe.js (`Stripe(pk)`). */
  publishableKey: string;
  /** Stripe.js (or the sandbox's stand-in at GATEWAY_URL/v3/). */
  gatewayJs: string;
  /** The gateway's origins, the only others the CSP allows. */
  gatewayOrigins: readonly string[];
  /** Where customers open their invoices (INVOICING_WEB_URL): the pages link back there. */
  invoicingWebUrl: string;
  /**
   * CC_FORMS_URL as configured: when https, cookies are `__Host-…; Secure` and answers carry HSTS
   * whatever the request's scheme (TLS ended at a proxy left untrusted). Unset: by the request.
   */
  ccFormsUrl?: string | undefined;
}
