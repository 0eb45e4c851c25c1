// The gateway-sandbox process: `vault start gateway-sandbox` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { runApp } from '@vault/runtime';

await runApp({
  name: 'gateway-sandbox',
  schema: 'gateway_sandbox',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.GATEWAY_PORT,
  // Routes and workers arrive with the app's own issue; /health is shared.
  build: async () => {},
});
