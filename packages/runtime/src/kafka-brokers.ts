// KAFKA_BROKERS, read alike by metering, invoicing and every `vault` command
// (busVariables, invoicing's config, the CLI's VaultSettings): one parser, so
// they never disagree about which bus is in use.
import { isIP } from 'node:net';
import { z } from 'zod';

/** host:port, the host a name or an IPv4 address: no brackets (kafkajs would dial `[1.2.3.4]` as a name). */
const BROKER = /^([^\s:/[\]]+):(\d{1,5})$/;

/**
 * An IPv6 literal, bracketed (`[::1]:9092`) or not (`::1:9092`): kafkajs (2.2.4,
 * connectionPoolBuilder.js) splits a broker at its first `:`, so it dialled host `[`
 * (getaddrinfo ENOTFOUND, after migrations had run) or `` with port NaN. Refused here;
 * a host name that resolves to the address works (kafkajs connects to a name's IPv6).
 */
function ipv6Problem(entry: string): string | undefined {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(entry)?.[1];
  const host = bracketed ?? entry.slice(0, Math.max(0, entry.lastIndexOf(':')));
  if (isIP(host) !== 6 && isIP(entry) !== 6) return undefined;
  return `${JSON.stringify(entry)} is an IPv6 address, which the Kafka client cannot connect to: use a host name that resolves to it (localhost, or one in /etc/hosts or DNS)`;
}

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
 * KAFKA_BROKERS: comma-separated host:port (a host name or IPv4 address); blank or unset: the embedded bus.
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
      const ipv6 = brokers.map(ipv6Problem).filter((p) => p !== undefined);
      if (ipv6.length > 0) {
        for (const message of ipv6) ctx.addIssue({ code: 'custom', message });
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
