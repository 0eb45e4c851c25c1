import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES, billingEventsJsonSchema, renderBillingEventsJsonSchema } from '../src/index.ts';
import { repoRoot } from './fixtures.ts';

const schemaFile = join(repoRoot, 'docs', 'contracts', 'events-v1.schema.json');

test('docs/contracts/events-v1.schema.json matches what the zod schemas generate now', () => {
  let onDisk = '';
  try {
    onDisk = readFileSync(schemaFile, 'utf8');
  } catch {
    // missing file: fall through to the same failure message
  }
  assert.ok(
    onDisk === renderBillingEventsJsonSchema(),
    `${schemaFile} is stale. Regenerate it from the repo root with:\n` +
      '  node --import tsx packages/contracts/scripts/write-json-schema.ts',
  );
});

test('the JSON Schema has one branch per event type, keyed by a const type', () => {
  const schema = billingEventsJsonSchema() as { oneOf: Array<{ properties: { type: { const: string } } }> };
  assert.deepEqual(
    schema.oneOf.map((branch) => branch.properties.type.const),
    [...EVENT_TYPES],
  );
});

test('the JSON Schema does not forbid unknown fields (publishers may send extensions)', () => {
  assert.ok(!JSON.stringify(billingEventsJsonSchema()).includes('"additionalProperties":false'));
});
