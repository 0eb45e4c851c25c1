// The cc-forms process: `vault start cc-forms` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { gatewayClient } from '@vault/gateway';
import { runApp } from '@vault/runtime';
import { ccFormsRoutes } from './app.ts';
import { ccFormsConfig } from './config.ts';
import { sdkCardGateway } from './cards/gateway.ts';

await runApp({
  name: 'cc-forms',
  schema: 'cc_forms',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  config: ccFormsConfig,
  port: 'CC_FORMS_PORT',
  build: async ({ settings, db, http, log }) => {
    const { gateway } = settings;
    ccFormsRoutes(http, {
      pool: db.pool,
      gateway: sdkCardGateway(gatewayClient(gateway)),
      log,
      attemptsPerHour: settings.CARD_ATTEMPTS_PER_HOUR,
      publishableKey: gateway.publishableKey,
      gatewayJs: gateway.jsUrl.toString(),
      gatewayOrigins: gateway.origins,
    });
  },
});
