// The gateway sandbox as a real process on a database of its own, with the SDK
// pointed at it: cc-forms' CardGateway with the secret key (what main.ts builds),
// the publishable key's client (what Stripe.js would send), and every API
// request the sandbox logged, to see which calls cc-forms made.
import { randomBytes } from 'node:crypto';
import { gatewayClient, type Gateway } from '@vault/gateway';
import {
  eventually,
  freePort,
  freshDatabase,
  startService,
  TEST_GATEWAY_PUBLISHABLE_KEY,
  TEST_GATEWAY_SECRET_KEY,
  type RunningService,
  type TestDatabase,
} from '@vault/testkit';
import { sdkCardGateway, type CardGateway } from '../src/cards/gateway.ts';

export interface Sandbox {
  url: string;
  /** cc-forms' calls, as main.ts makes them. */
  gateway: CardGateway;
  /** The SDK with the secret key: what invoicing's charger would do. */
  stripe: Gateway;
  /** The SDK with the publishable key: what the customer's browser would do. */
  browser: Gateway;
  /** `GET /v1/setup_intents/:id`, … for every API request answered so far, in order (all of them: see settle). */
  requests(): Promise<string[]>;
  close(): Promise<void>;
}

const REQUEST = /\bevent=http\.request method=(\S+) path=(\S+)/;

export async function startSandbox(): Promise<Sandbox> {
  const db: TestDatabase = await freshDatabase('ccf_gw');
  let service: RunningService | undefined;
  try {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    service = await startService('gateway-sandbox', {
      DATABASE_URL: db.url,
      GATEWAY_PORT: String(port),
      GATEWAY_URL: url,
      GATEWAY_SECRET_KEY: TEST_GATEWAY_SECRET_KEY,
      GATEWAY_PUBLISHABLE_KEY: TEST_GATEWAY_PUBLISHABLE_KEY,
      HOST: '127.0.0.1',
    });
    const running = service;
    const stripe = gatewayClient({ url: new URL(url), secretKey: TEST_GATEWAY_SECRET_KEY });
    return {
      url,
      gateway: sdkCardGateway(stripe),
      stripe,
      browser: gatewayClient({ url: new URL(url), secretKey: TEST_GATEWAY_PUBLISHABLE_KEY }),
      async requests() {
        // The sandbox logs a request once answered, on its own stdout: a marker request of
        // ours (an unknown URL, logged as `(no route)`, never by its path) seen in the lines
        // means every request answered before it has been read too. Ours are the only ones
        // no route matches, one at a time: the marker's line is the next such line.
        const unmatched = () => running.lines.flatMap((l, i) => (l.includes('path="(no route)"') ? [i] : []));
        const before = unmatched().length;
        const marker = `/v1/marker_${randomBytes(6).toString('hex')}`;
        await fetch(`${url}${marker}`, { headers: { authorization: `Bearer ${TEST_GATEWAY_SECRET_KEY}` } });
        const at = () => unmatched()[before] ?? -1;
        await eventually(`the sandbox's log line of ${marker}`, () => at() >= 0, 10_000);
        return running.lines
          .slice(0, at())
          .map((l) => REQUEST.exec(l))
          .filter((m): m is RegExpExecArray => m !== null && m[2]!.startsWith('/v1/') && !m[2]!.startsWith('/v1/marker_'))
          .map((m) => `${m[1]} ${m[2]}`);
      },
      async close() {
        await running.kill('SIGTERM');
        await db.drop();
      },
    };
  } catch (err) {
    await service?.kill();
    await db.drop();
    throw err;
  }
}

/** What happened at the gateway while `act` ran: the API requests it answered. */
export async function gatewayRequestsDuring(sb: Sandbox, act: () => Promise<unknown>): Promise<string[]> {
  const before = (await sb.requests()).length;
  await act();
  return (await sb.requests()).slice(before);
}
