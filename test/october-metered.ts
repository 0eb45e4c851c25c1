// The public example month through metering: the app in this process (embedded
// bus, real PostgreSQL), october.ndjson posted to POST /v1/events and applied,
// and invoicing's schema beside it, for the tests that bill it.
import assert from 'node:assert/strict';
import { eventually } from '@vault/testkit';
import { ensureInvoicingSchema } from '../services/invoicing/src/cli/migrations.ts';
import { AUTH, exampleText, startMetering, stats, type Metering } from '../services/metering/test/harness.ts';

export async function octoberMetered(): Promise<Metering> {
  const m = await startMetering('embedded');
  await ensureInvoicingSchema(m.db.pool);
  const posted = await m.http.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { ...AUTH, 'content-type': 'application/x-ndjson' },
    payload: exampleText('october.ndjson'),
  });
  assert.equal(posted.statusCode, 202, posted.body);
  await eventually('october applied', async () => (await stats(m)).events_applied === 13);
  return m;
}
