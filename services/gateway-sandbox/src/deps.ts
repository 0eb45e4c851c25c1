import type pg from 'pg';
import type { Logger } from '@vault/runtime';

/** What the routes need, handed to each resource's routes by app.ts. */
export interface SandboxDeps {
  pool: pg.Pool;
  log: Logger;
  secretKey: string;
  publishableKey: string;
  /**
   * Where browsers reach the sandbox (the origin of its Stripe.js, GATEWAY_JS_URL
   * or GATEWAY_URL): 3-D Secure challenge pages are addressed there.
   */
  publicOrigin: string;
  /** The card form's origin (CC_FORMS_URL): the only one that may frame the card fields. */
  cardFormOrigin: string;
  /** GATEWAY_SANDBOX_LATENCY_MS: the wait between commit and answer. */
  latencyMs: number;
  fingerprintKey: () => Promise<Buffer>;
  /** Called after a commit that wrote events: wakes the delivery loop. */
  onEvents: () => void;
  /**
   * Tests only (test/harness.ts sets it; main.ts never does, and no variable reaches it): called
   * with the path inside a mutating request's transaction once its endpoint has run, before its
   * answer is stored. A throw there is a 500 of an endpoint that began executing (api/idempotency.ts).
   */
  faultAfterWork?: ((path: string) => void) | undefined;
}
