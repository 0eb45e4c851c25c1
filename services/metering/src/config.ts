// Metering's configuration: the variables it reads, and only those, so another
// app's bad variable never stops it. Parsed once, at boot (main.ts → runApp).
import { z } from 'zod';
import {
  adminToken,
  bootVariables,
  busVariables,
  parseConfig,
  port,
  positiveNumber,
  requireAdminTokenInDeployment,
  stringWithDefault,
} from '@vault/runtime/variables';

export const MeteringSettings = requireAdminTokenInDeployment(
  z.object({
    ...bootVariables,
    ...busVariables,
    /** Metering's consumer group: one group per metering database. */
    METERING_CONSUMER_GROUP: stringWithDefault('metering'),
    /** The embedded bus only: how often metering trims what every group has read past (seconds). */
    BUS_TRIM_EVERY_SECONDS: positiveNumber(300),
    /** At least 32 characters; required with DATABASE_URL; unset in development: $VAULT_HOME/admin_token. */
    ADMIN_TOKEN: adminToken,
    METERING_PORT: port(3001),
  }),
);
export type MeteringSettings = z.infer<typeof MeteringSettings>;

/** Throws a ConfigError naming every bad variable. */
export function meteringConfig(env: NodeJS.ProcessEnv): MeteringSettings {
  return parseConfig(MeteringSettings, env);
}
