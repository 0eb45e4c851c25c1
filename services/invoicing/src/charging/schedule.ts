import { startLoop, type Loop } from '@vault/runtime';
import { chargePass, type ChargerDeps } from './charger.ts';
import { ensureWebhookEndpoint } from './webhook-endpoint.ts';

export interface ChargeLoopDeps extends ChargerDeps {
  everyMs: number;
  /** Set when invoicing registers its own webhook endpoint (no GATEWAY_WEBHOOK_SECRET). */
  webhookUrl?: string;
}

/**
 * The charging loop inside the app: first the webhook endpoint's registration
 * (until it succeeds), then a pass; the next pass starts `everyMs` after one
 * ends, so passes never pile up behind a slow gateway.
 */
export function startChargeLoop(deps: ChargeLoopDeps): Loop {
  let registered = deps.webhookUrl === undefined;
  return startLoop({
    everyMs: deps.everyMs,
    async tick() {
      if (!registered) {
        try {
          await ensureWebhookEndpoint(deps.pool, deps.gateway, deps.webhookUrl!, deps.log);
          registered = true;
        } catch (err) {
          deps.log.error('webhook_endpoint.failed', err);
        }
      }
      await chargePass(deps);
    },
    // Crash-only: whatever this pass recorded stands; the next one goes on from it.
    onError: (err) => deps.log.error('charging.pass_failed', err),
  });
}
