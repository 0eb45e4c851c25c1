// The sandbox's configuration: the variables it reads, and only those. It
// listens on GATEWAY_PORT and takes the same keys its clients use.
import { z } from 'zod';
import { gatewayConfig, type GatewayConfig } from '@vault/gateway/config';
import { blankToUndefined, bootVariables, gatewayVariables, parseConfig } from '@vault/runtime/variables';

export const GatewaySandboxSettings = z.object({
  ...bootVariables,
  ...gatewayVariables,
  /** The sandbox's added delay before answering (tests of requests in flight). */
  GATEWAY_SANDBOX_LATENCY_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).default(0)),
});
export type GatewaySandboxSettings = z.infer<typeof GatewaySandboxSettings>;

/** Throws a ConfigError naming every bad variable (GATEWAY_URL without keys included). */
export function gatewaySandboxConfig(env: NodeJS.ProcessEnv): GatewaySandboxSettings & { gateway: GatewayConfig } {
  const settings = parseConfig(GatewaySandboxSettings, env);
  // The same keys the other apps use to call the gateway (sandbox defaults when GATEWAY_URL is unset).
  return { ...settings, gateway: gatewayConfig(settings) };
}
