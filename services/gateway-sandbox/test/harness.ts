// The sandbox in this process on its own database and a free port, with the
// official SDK pointed at it; and helpers to speak its wire format raw.
import { fileURLToPath } from 'node:url';
import { migrate } from '@vault/db';
import Stripe from 'stripe';
import { gatewayClient, type Gateway } from '@vault/gateway';
import { createHttpApp, memoryLogger, type Logger } from '@vault/runtime';
import { freePort, freshDatabase, TEST_GATEWAY_PUBLISHABLE_KEY, TEST_GATEWAY_SECRET_KEY, type TestDatabase } from '@vault/testkit';
import { gatewaySandbox } from '../src/app.ts';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
/** The keys the in-process sandbox is given, as GATEWAY_SECRET_KEY/GATEWAY_PUBLISHABLE_KEY would. */
export const SK = TEST_GATEWAY_SECRET_KEY;
export const PK = TEST_GATEWAY_PUBLISHABLE_KEY;
/** The card form's origin the in-process sandbox lets frame its card fields (CC_FORMS_URL). */
export const CARD_FORM_ORIGIN = 'http://localhost:3002';

export interface Sandbox {
  db: TestDatabase;
  url: string;
  stripe: Gateway;
  log: Logger & { lines: string[] };
  close(): Promise<void>;
}

/** The app as main.ts builds it; deliveries polled and retried fast. */
export async function startSandbox(
  opts: { latencyMs?: number; cardFormOrigin?: string; faultAfterWork?: (path: string) => void } = {},
): Promise<Sandbox> {
  const db = await freshDatabase('gateway');
  await migrate(db.pool, 'gateway_sandbox', MIGRATIONS);
  const log = memoryLogger({ app: 'gateway-sandbox' });
  const http = createHttpApp(log);
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const delivery = gatewaySandbox(http, {
    pool: db.pool,
    log,
    secretKey: SK,
    publishableKey: PK,
    cardFormOrigin: opts.cardFormOrigin ?? CARD_FORM_ORIGIN,
    publicOrigin: url,
    latencyMs: opts.latencyMs ?? 0,
    faultAfterWork: opts.faultAfterWork,
    delivery: { pollMs: 50, baseDelayMs: 200, maxDelayMs: 1000, timeoutMs: 2000 },
  });
  await http.listen({ port, host: '127.0.0.1' });
  const stripe = gatewayClient({ url: new URL(url), secretKey: SK });
  return {
    db,
    url,
    stripe,
    log,
    close: async () => {
      await http.close();
      await delivery.stop();
      await db.drop();
    },
  };
}

/** A raw request as the SDK (or Stripe.js) would send it: form-encoded. */
export async function raw(
  base: string,
  method: string,
  path: string,
  opts: { key?: string | null; form?: Record<string, string>; idempotencyKey?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? SK}`;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  let body: string | undefined;
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(base + path, { method, headers, body });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The official SDK with the publishable key, as a browser's Stripe.js would call the sandbox. */
export function browserClient(sb: Sandbox): Stripe {
  return new Stripe(PK, { host: 'localhost', port: new URL(sb.url).port, protocol: 'http' });
}

/**
 * A card PaymentMethod for a test number (exp 12/2034, CVC 123), made with the
 * publishable key as the card iframe does: the secret key may not send numbers.
 */
export function card(via: Sandbox | Stripe, number: string) {
  const client = via instanceof Stripe ? via : browserClient(via);
  return client.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
}
