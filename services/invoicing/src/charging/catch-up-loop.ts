// The app's loop that keeps invoicing hearing the gateway: its webhook
// endpoint registered and enabled, then the events the webhooks missed caught
// up (event-catch-up.ts), from boot on, every WEBHOOK_CATCH_UP_EVERY_SECONDS,
// by one process at a time (event-mark.ts' lock).
import type pg from 'pg';
import { unreachableFields } from '@vault/gateway';
import { type Logger, type Loop, startLoop } from '@vault/runtime';
import { catchUpHoldingLock, type EventSource } from './event-catch-up.ts';
import { whileCatchingUp } from './event-mark.ts';
import type { CardTesting } from './card-testing.ts';
import type { DisputeGateway } from './dispute-gateway.ts';
import type { ChargeGateway } from './gateway-calls.ts';
import { ensureWebhookEndpoint } from './webhook-endpoint.ts';

export interface CatchUpLoopDeps {
  pool: pg.Pool;
  log: Logger;
  gateway: ChargeGateway;
  /** A fraudulent chargeback's card, read back (dispute-block.ts). */
  disputes?: DisputeGateway | undefined;
  /** Other cards' declines counted, and a PaymentIntent past the limit canceled (card-testing.ts). */
  cardTesting?: CardTesting | undefined;
  events: EventSource;
  everyMs: number;
  /** After a failed run, the next one comes this soon when that is sooner (a gateway still booting at ours). */
  retryMs: number;
  /** Set when invoicing registers its own webhook endpoint (no GATEWAY_WEBHOOK_SECRET). */
  webhookUrl?: string | undefined;
  /** GATEWAY_URL's origin: named, with the network's cause, when the gateway cannot be reached. */
  gatewayOrigin?: string | undefined;
  now?: () => number;
}

export function startCatchUpLoop(deps: CatchUpLoopDeps): Loop {
  let retry: NodeJS.Timeout | undefined;
  let stopping = false;
  // Called only after the loop's first await, once `loop` is set.
  const failed = (event: string, err: unknown) => {
    // A stop (Ctrl-C, SIGTERM) may cut a call in flight, or the gateway may stop with us: not a failure.
    if (stopping) return deps.log.info(event.replace(/\.failed$/, '.interrupted'), { reason: 'stopping' });
    deps.log.error(event, err, unreachableFields(err, deps.gatewayOrigin));
    clearTimeout(retry);
    if (deps.retryMs < deps.everyMs) retry = setTimeout(() => loop.wake(), deps.retryMs);
  };
  const loop = startLoop({
    everyMs: deps.everyMs,
    async tick() {
      clearTimeout(retry);
      // Under the catch-up's lock, the endpoint's check too: two processes re-registering a deleted
      // endpoint at once made two, one's secret lost (its deliveries refused). The holder does both.
      const tally = await whileCatchingUp(deps.pool, async () => {
        if (deps.webhookUrl !== undefined) {
          // Every run, not only until the first success: the gateway disables an endpoint whose
          // deliveries keep failing, and an operator may delete it. Its failure does not stop the catch-up.
          await ensureWebhookEndpoint(deps.pool, deps.gateway, deps.webhookUrl, deps.log).catch((err: unknown) =>
            failed('webhook_endpoint.failed', err),
          );
        }
        return catchUpHoldingLock(deps);
      });
      if (!tally) deps.log.info('webhook_catchup.skipped', { reason: 'another process is catching up' });
    },
    // Crash-only: the mark saved stands; the next run lists again from it.
    onError: (err) => failed('webhook_catchup.failed', err),
  });
  return {
    wake: () => loop.wake(),
    stop: async () => {
      stopping = true;
      clearTimeout(retry);
      await loop.stop();
      // A run failing as it stopped may have set one again.
      clearTimeout(retry);
    },
  };
}
