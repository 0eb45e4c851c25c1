// KAFKA_BROKERS, read alike by metering, invoicing and every `vault` command
// (busVariables, invoicing's config, the CLI's VaultSettings): one parser, so
// they never disagree about which bus is in use.
import { z } from 'zod';

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/**
 * What is wrong with a well-shaped entry's port, quoting the entry (a broker's address holds no secret).
 * Checked here, not by the Kafka client: it threw a RangeError naming nothing, after migrations had run.
 */
function portProblem(entry: string): string | undefined {
  const port = BROKER.exec(entry)?.[2];
  if (port === undefined || (Number(port) >= 1 && Number(port) <= 65535)) return undefined;
  return `port ${port} of ${JSON.stringify(entry)} must be 1–65535`;
}

/**
 * KAFKA_BROKERS: comma-separated host:port; blank or unset: the embedded bus.
 * Commas with no broker (`,`) are refused, not read as unset: a stray comma
 * must not move metering to the embedded bus while invoicing publishes to none.
 */
export const kafkaBrokers = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? v : undefined),
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const brokers = s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
      if (brokers.length === 0) {
        ctx.addIssue({ code: 'custom', message: `expected comma-separated host:port, got no broker in ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      const bad = brokers.filter((b) => !BROKER.test(b));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected comma-separated host:port, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
        });
        return z.NEVER;
      }
      const ports = brokers.map(portProblem).filter((p) => p !== undefined);
      for (const message of ports) ctx.addIssue({ code: 'custom', message });
      return ports.length > 0 ? z.NEVER : brokers;
    }),
);
