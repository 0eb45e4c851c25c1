// What invoicing's features are given at boot (main.ts builds it, app.ts hands
// it to each feature's routes). Features import this type, never app.ts.
import type pg from 'pg';
import type { PriceBook } from '@vault/contracts';
import type { Gateway } from '@vault/gateway';
import type { Logger } from '@vault/runtime';
import type { Billing } from './billing/types.ts';
import type { CardTesting } from './charging/card-testing.ts';
import type { DisputeGateway } from './charging/dispute-gateway.ts';

export interface InvoicingDeps {
  pool: pg.Pool;
  billing: Billing;
  prices: PriceBook;
  adminToken: string;
  log: Logger;
  /**
   * Finance's CSV exports: a small pool of their own, so slow downloads never
   * hold the connections customers' pages need, and how many may stream at
   * once (beyond it: 429), and INVOICE_GRACE_HOURS: a month is not exported before
   * it is due (409). Unset (route tests): `pool`, EXPORT_CONCURRENCY at once, 72 hours.
   */
  exports?: { pool: pg.Pool; concurrency: number; graceHours: number };
  /** Where customers open the card form (CC_FORMS_URL): the invoice pages link to it. Unset (route tests): its development address. */
  ccFormsUrl?: string;
  /**
   * INVOICING_WEB_URL as configured: when https, cookies are `__Host-…; Secure` and answers carry
   * HSTS whatever the request's scheme (TLS ended at a proxy left untrusted). Unset: by the request.
   */
  invoicingWebUrl?: string | undefined;
  /** The gateway's webhooks (`POST /v1/gateway/webhooks`); the app always has them, route tests may not. */
  webhooks?: {
    verifier: Gateway['webhooks'];
    secret: string | undefined;
    disputes?: DisputeGateway | undefined;
    /** CARD_ATTEMPTS_PER_HOUR and the gateway a PaymentIntent past it is canceled at (charging/card-testing.ts). */
    cardTesting?: CardTesting | undefined;
  };
}
