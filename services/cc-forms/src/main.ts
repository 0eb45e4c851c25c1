// The cc-forms process: `vault start cc-forms` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { runApp } from '@vault/runtime';

await runApp({
  name: 'cc-forms',
  schema: 'cc_forms',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.CC_FORMS_PORT,
  // Routes and workers arrive with the app's own issue; /health is shared.
  build: async () => {},
});
