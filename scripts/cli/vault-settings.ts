// VaultSettings: every variable any app or the `vault` command reads, for the
// command alone (it starts, migrates and drives every app); it lives here, in
// the CLI, because only the CLI may know every app. Each app parses
// only its own schema (services/<app>/src/config.ts), so one app's bad
// variable never stops another; this merge only gathers them.
import { z } from 'zod';
import { CcFormsSettings } from '@vault/cc-forms/config';
import { GatewaySandboxSettings } from '@vault/gateway-sandbox/config';
import { InvoicingSettings } from '@vault/invoicing/config';
import { MeteringSettings } from '@vault/metering/config';
import { optionalNumberVariable, port } from '@vault/runtime/variables';

/** The variables only the `vault` command reads. */
export const cliVariables = {
  /** `vault kafka start`: the local broker's port, and its controller's (default: port + 1). */
  KAFKA_PORT: port(9092),
  KAFKA_CONTROLLER_PORT: optionalNumberVariable(z.number().int().min(1).max(65535)),
};

/** Each app's own configuration schema, by app name. */
export const APP_SETTINGS = {
  metering: MeteringSettings,
  invoicing: InvoicingSettings,
  'cc-forms': CcFormsSettings,
  'gateway-sandbox': GatewaySandboxSettings,
} as const;

export const VaultSettings = z.object({
  ...MeteringSettings.shape,
  ...InvoicingSettings.shape,
  ...CcFormsSettings.shape,
  ...GatewaySandboxSettings.shape,
  ...cliVariables,
});
export type VaultSettings = z.infer<typeof VaultSettings>;
