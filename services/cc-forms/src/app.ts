// cc-forms' HTTP surface: server-rendered pages over a cookie session opened by
// an account's sign-in link, the card form's two JSON endpoints, its static
// files. Everything the routes need arrives here (deps.ts), never imported by them.
import type { FastifyInstance } from 'fastify';
import { strictTransportSecurity } from '@vault/web';
import { cardApiRoutes } from './cards/routes.ts';
import { paymentApiRoutes } from './payments/routes.ts';
import type { CcFormsDeps } from './deps.ts';
import { assetRoutes } from './web/assets.ts';
import { webContext } from './web/context.ts';
import { pageRoutes } from './web/routes.ts';

export function ccFormsRoutes(http: FastifyInstance, deps: CcFormsDeps): void {
  // Every answer over https (directly, through a proxy TRUST_PROXY names, or at an https CC_FORMS_URL) pins https.
  http.addHook('onSend', async (req, reply) => {
    strictTransportSecurity(req, reply, deps.ccFormsUrl);
  });
  http.register(async (web) => {
    const ctx = webContext(web, deps);
    pageRoutes(web, ctx);
    cardApiRoutes(web, ctx);
    paymentApiRoutes(web, ctx);
    assetRoutes(web);
  });
}
