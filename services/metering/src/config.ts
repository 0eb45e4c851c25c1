// Metering's configuration: the variables it reads, and only those, so another
// app's bad variable never stops it. Parsed once, at boot (main.ts → runApp).
import { z } from 'zod';
import {
  adminToken,
  blankToUndefined,
  bootVariables,
  busVariables,
  consumerGroup,
  parseConfig,
  port,
  loopSeconds,
  requireAdminTokenInDeployment,
} from '@vault/runtime/variables';

/** Years, months, weeks, days, then hours, minutes, seconds: digits each. */
const DURATION = /^P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** P100Y: a cut further back is no date `vault archive` can use (P1000000Y made it `Invalid DateTime`). */
const MAX_RETENTION_DAYS = 100 * 366;

export const MeteringSettings = requireAdminTokenInDeployment(
  z.object({
    ...bootVariables,
    ...busVariables,
    /** Metering's consumer group: one group per metering database; spaces around it or outside Kafka's characters are refused. */
    METERING_CONSUMER_GROUP: consumerGroup('metering'),
    /** The embedded bus only: how often metering trims what every group has read past (seconds). */
    BUS_TRIM_EVERY_SECONDS: loopSeconds(300, 0.1),
    /** `vault archive`: raw events of closed subjects older than this (an ISO-8601 duration, months allowed) go to files. */
    EVENT_RETENTION: isoPeriod('P13M'),
    /** `vault archive`: where the files go; unset: $VAULT_HOME/archive. */
    ARCHIVE_DIR: z.preprocess(blankToUndefined, z.string().optional()),
    /** At least 32 characters; required with DATABASE_URL; unset in development: $VAULT_HOME/admin_token. */
    ADMIN_TOKEN: adminToken,
    METERING_PORT: port(3001),
  }),
);
/** One positive ISO-8601 duration, years and months allowed (P13M, P1Y6M, P30D). */
function isoPeriod(fallback: string) {
  return z.preprocess(
    (v) => blankToUndefined(v) ?? fallback,
    z
      .string()
      .trim()
      // One problem per value: a malformed one (-P1M) also got a false "must be at most P100Y".
      .superRefine((s, ctx) => {
        const problem = periodProblem(s);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  );
}

/** What is wrong with an ISO-8601 period, the first thing only; a year is 366 days, a month 30.5 (P1200M is P100Y). */
function periodProblem(text: string): string | undefined {
  const parts = DURATION.exec(text);
  if (!parts) return 'expected an ISO-8601 duration such as P13M or P400D';
  if (!/[1-9]/.test(text)) return 'must be longer than zero';
  const [y, m, w, d, h, min, sec] = parts.slice(1).map((part) => Number(part ?? 0));
  const days = y! * 366 + m! * 30.5 + w! * 7 + d! + (h! + min! / 60 + sec! / 3600) / 24;
  return days > MAX_RETENTION_DAYS ? 'must be at most P100Y' : undefined;
}

export type MeteringSettings = z.infer<typeof MeteringSettings>;

/** Throws a ConfigError naming every bad variable. */
export function meteringConfig(env: NodeJS.ProcessEnv): MeteringSettings {
  return parseConfig(MeteringSettings, env);
}
