// Metering's configuration: the variables it reads, and only those, so another
// app's bad variable never stops it. Parsed once, at boot (main.ts → runApp).
import { z } from 'zod';
import { bootVariables, busVariables, optionalString, parseConfig, port, stringWithDefault } from '@vault/runtime/variables';

export const MeteringSettings = z.object({
  ...bootVariables,
  ...busVariables,
  /** Metering's consumer group: one group per metering database. */
  METERING_CONSUMER_GROUP: stringWithDefault('metering'),
  /** Unset: generated and logged (admin_token.generated). */
  ADMIN_TOKEN: optionalString,
  METERING_PORT: port(3001),
});
export type MeteringSettings = z.infer<typeof MeteringSettings>;

/** Throws a ConfigError naming every bad variable. */
export function meteringConfig(env: NodeJS.ProcessEnv): MeteringSettings {
  return parseConfig(MeteringSettings, env);
}
