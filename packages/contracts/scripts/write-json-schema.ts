// Regenerates docs/contracts/events-v1.schema.json from the zod schemas.
// Run from anywhere: node --import tsx packages/contracts/scripts/write-json-schema.ts
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderBillingEventsJsonSchema } from '../src/json-schema.ts';

const target = fileURLToPath(new URL('../../../docs/contracts/events-v1.schema.json', import.meta.url));
writeFileSync(target, renderBillingEventsJsonSchema());
console.log(`wrote ${target}`);
