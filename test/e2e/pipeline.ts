// The four apps as real processes on one fresh database, on the embedded bus
// or the real Kafka broker, wired as `vault start` wires them: the gateway
// sandbox, metering, invoicing (its charge loop every second) and cc-forms.
import {
  eventually,
  freePort,
  freshDatabase,
  startService,
  testKafkaBrokers,
  uniqueName,
  vault,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';

export type BusMode = 'embedded' | 'kafka';

export interface Pipeline {
  db: TestDatabase;
  env: Record<string, string>;
  apps: Record<'sandbox' | 'metering' | 'invoicing' | 'ccForms', RunningService>;
  /** GET (or POST) on an app with the admin token; parsed JSON or text. */
  call(app: RunningService, path: string, init?: RequestInit): Promise<Response>;
  vault(args: string[], input?: string): ReturnType<typeof vault>;
  close(): Promise<void>;
}

export const ADMIN = 'admin-token-e2e-pipeline-0123456789abcdef';

export async function startPipeline(mode: BusMode): Promise<Pipeline> {
  const db = await freshDatabase(`e2e_${mode}`);
  const [gateway, metering, invoicing, ccForms] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    ADMIN_TOKEN: ADMIN,
    HOST: '127.0.0.1',
    GATEWAY_PORT: String(gateway),
    METERING_PORT: String(metering),
    INVOICING_PORT: String(invoicing),
    CC_FORMS_PORT: String(ccForms),
    INVOICING_URL: `http://localhost:${invoicing}`,
    CHARGE_EVERY_SECONDS: '1',
    PAYMENT_RETRY_SCHEDULE: 'PT0.2S,PT0.2S',
    // The test finalizes with `vault finalize`: the schedule's only tick is the one at boot (below).
    INVOICE_FINALIZE_EVERY_SECONDS: '3600',
    ...(mode === 'kafka'
      ? {
          KAFKA_BROKERS: testKafkaBrokers().join(','),
          BILLING_EVENTS_TOPIC: uniqueName('e2e-events'),
          METERING_CONSUMER_GROUP: uniqueName('e2e-metering'),
        }
      : {}),
  };
  // The gateway first: invoicing registers its webhook endpoint with it at boot.
  const sandbox = await startService('gateway-sandbox', env);
  const [meteringApp, invoicingApp, ccFormsApp] = await Promise.all([
    startService('metering', env),
    startService('invoicing', env),
    startService('cc-forms', env),
  ]);
  // October is due: the schedule's first tick (a second after boot) must pass
  // before events arrive, or it would finalize October under the test's feet.
  await eventually("invoicing's first schedule tick", () => invoicingApp.lines.some((l) => l.includes('event=invoicing.schedule_tick')));
  const apps = { sandbox, metering: meteringApp, invoicing: invoicingApp, ccForms: ccFormsApp };
  return {
    db,
    env,
    apps,
    call: (app, path, init = {}) =>
      fetch(new URL(path, app.url), { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers ?? {}) } }),
    vault: (args, input) => vault(args, env, input),
    async close() {
      await Promise.all(Object.values(apps).map((a) => a.kill('SIGTERM')));
      await db.drop();
    },
  };
}
