// Is something listening, and is it a Kafka broker that answers requests?
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';

/** True when a TCP connection to host:port succeeds. */
export function portOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** One metadata round-trip (describeCluster): the broker is up and serving, not just bound. */
export async function brokerAnswers(brokers: string, timeoutMs = 3_000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'kafka-local-probe',
    brokers: [brokers],
    connectionTimeout: Math.min(timeoutMs, 1_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
