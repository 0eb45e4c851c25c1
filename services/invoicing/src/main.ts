// The invoicing process: `vault start invoicing` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { runApp } from '@vault/runtime';

await runApp({
  name: 'invoicing',
  schema: 'invoicing',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.INVOICING_PORT,
  // Routes and workers arrive with the app's own issue; /health is shared.
  build: async () => {},
});
