// The sandbox's configuration: the variables it reads, and only those. It
// listens on GATEWAY_PORT and takes the same keys its clients use (configured,
// unless GATEWAY_URL is Stripe's API, or its own, generated per installation by
// migration 002 and read by them from its database); its card fields may be
// framed by the card form's origin alone.
import { z } from 'zod';
import { gatewayTarget, type GatewayTarget } from '@vault/gateway/config';
import { bootVariables, gatewayVariables, integerVariable, parseConfig, port, webOrigin, webUrl } from '@vault/runtime/variables';

export const GatewaySandboxSettings = z.object({
  ...bootVariables,
  ...gatewayVariables,
  /** The sandbox's added delay before answering (tests of requests in flight). */
  GATEWAY_SANDBOX_LATENCY_MS: integerVariable(0, 0, 600_000),
  /**
   * Where customers open the card form: its origin is the only one allowed to
   * frame the sandbox's card fields (CSP frame-ancestors). Unset: http://localhost:CC_FORMS_PORT.
   * Read as invoicing reads it (webUrl), so one value boots both or neither.
   */
  CC_FORMS_URL: webUrl,
  CC_FORMS_PORT: port(3002),
});
export type GatewaySandboxSettings = z.infer<typeof GatewaySandboxSettings>;

export interface GatewaySandboxConfig extends GatewaySandboxSettings {
  gateway: GatewayTarget;
  /** The one origin that may frame the card fields, and that they talk to. */
  cardFormOrigin: string;
}

/** Throws a ConfigError naming every bad variable (GATEWAY_URL without keys included). */
export function gatewaySandboxConfig(env: NodeJS.ProcessEnv): GatewaySandboxConfig {
  const settings = parseConfig(GatewaySandboxSettings, env);
  return {
    ...settings,
    // The same keys the other apps use to call the gateway, when configured; else its own (main.ts).
    gateway: gatewayTarget(settings),
    cardFormOrigin: settings.CC_FORMS_URL ? webOrigin(settings.CC_FORMS_URL) : `http://localhost:${settings.CC_FORMS_PORT}`,
  };
}
