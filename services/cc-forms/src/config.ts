// cc-forms' configuration: the variables it reads, and only those, the
// gateway's checked at boot before the database is touched.
import { z } from 'zod';
import { gatewayTarget, type GatewayTarget } from '@vault/gateway/config';
import { bootVariables, gatewayVariables, parseConfig, port, positiveNumber, webVariables } from '@vault/runtime/variables';

export const CcFormsSettings = z.object({
  ...bootVariables,
  ...gatewayVariables,
  ...webVariables,
  /** Card attempts (new setup intents) an account may make per hour on the card form. */
  CARD_ATTEMPTS_PER_HOUR: positiveNumber(10),
  CC_FORMS_PORT: port(3002),
});
export type CcFormsSettings = z.infer<typeof CcFormsSettings>;

/** Throws a ConfigError naming every bad variable (GATEWAY_URL without keys included). */
export function ccFormsConfig(env: NodeJS.ProcessEnv): CcFormsSettings & { gateway: GatewayTarget } {
  const settings = parseConfig(CcFormsSettings, env);
  return { ...settings, gateway: gatewayTarget(settings) };
}
