// The metering process: `vault start metering` (Procfile) runs this file.
import { fileURLToPath } from 'node:url';
import { runApp } from '@vault/runtime';

await runApp({
  name: 'metering',
  schema: 'metering',
  migrations: fileURLToPath(new URL('../migrations', import.meta.url)),
  port: (settings) => settings.METERING_PORT,
  // Routes and workers arrive with the app's own issue; /health is shared.
  build: async () => {},
});
