// cc-forms' configuration: the variables it reads, and only those, the
// gateway's checked at boot before the database is touched.
import { z } from 'zod';
import { gatewayTarget, type GatewayTarget } from '@vault/gateway/config';
import { bootVariables, cardAttemptsPerHour, gatewayVariables, parseConfig, port, webUrl, webVariables } from '@vault/runtime/variables';

export const CcFormsSettings = z.object({
  ...bootVariables,
  ...gatewayVariables,
  ...webVariables,
  /** Card attempts (new setup intents) an account may make per hour on the card form. */
  CARD_ATTEMPTS_PER_HOUR: cardAttemptsPerHour,
  CC_FORMS_PORT: port(3002),
  /** Where customers open their invoices (invoicing's pages): the card form links back to them. Unset: http://localhost:INVOICING_PORT. */
  INVOICING_WEB_URL: webUrl,
  INVOICING_PORT: port(3000),
  /** Where customers open the card form (invoicing links to it): https makes its cookies Secure. Unset: by the request. */
  CC_FORMS_URL: webUrl,
});
export type CcFormsSettings = z.infer<typeof CcFormsSettings>;

/** Throws a ConfigError naming every bad variable (GATEWAY_URL without keys included). */
export function ccFormsConfig(env: NodeJS.ProcessEnv): CcFormsSettings & { gateway: GatewayTarget; invoicingWebUrl: string } {
  const settings = parseConfig(CcFormsSettings, env);
  return {
    ...settings,
    gateway: gatewayTarget(settings),
    invoicingWebUrl: settings.INVOICING_WEB_URL ?? `http://localhost:${settings.INVOICING_PORT}`,
  };
}
