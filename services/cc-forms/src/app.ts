// cc-forms' HTTP surface: server-rendered pages over a cookie session opened by
// an account's sign-in link, the card form's two JSON endpoints, its static
// files. Everything the routes need arrives here, never imported by them.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from '@vault/runtime';
import type { CardGateway } from './gateway/cards.ts';
import { assetRoutes } from './routes/assets.ts';
import { cardApiRoutes } from './routes/card-api.ts';
import { pageRoutes } from './routes/pages.ts';
import { webContext } from './routes/web.ts';

export interface CcFormsDeps {
  pool: pg.Pool;
  gateway: CardGateway;
  log: Logger;
  /** CARD_ATTEMPTS_PER_HOUR */
  attemptsPerHour: number;
  /** What the page hands Stripe.js (`Stripe(pk)`). */
  publishableKey: string;
  /** Stripe.js (or the sandbox's stand-in at GATEWAY_URL/v3/). */
  gatewayJs: string;
  /** The gateway's origins, the only others the CSP allows. */
  gatewayOrigins: readonly string[];
}

export function ccFormsRoutes(http: FastifyInstance, deps: CcFormsDeps): void {
  http.register(async (web) => {
    const ctx = webContext(web, deps);
    pageRoutes(web, ctx);
    cardApiRoutes(web, ctx);
    assetRoutes(web);
  });
}
