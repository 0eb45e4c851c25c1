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
export function startChargeLoop(deps: ChargeLoopDeps): { stop(): Promise<void> } {
  let stopped = false;
  let registered = deps.webhookUrl === undefined;
  let wake: () => void = () => {};
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => (clearTimeout(timer), resolve());
    });
  const tick = async () => {
    if (!registered) {
      try {
        await ensureWebhookEndpoint(deps.pool, deps.gateway, deps.webhookUrl!, deps.log);
        registered = true;
      } catch (err) {
        deps.log.error('webhook_endpoint.failed', err);
      }
    }
    try {
      await chargePass(deps);
    } catch (err) {
      // Crash-only: whatever this pass recorded stands; the next one goes on from it.
      deps.log.error('charging.pass_failed', err);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await tick();
      if (!stopped) await sleep(deps.everyMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}
