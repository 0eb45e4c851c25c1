// Whether Kafka answers at all, found out within seconds: kafkajs's own
// retries take minutes to give up on a broker that is not there.
import { connect } from 'node:net';

/**
 * Kafka could not be reached at boot. It carries the variable it comes from,
 * so an app's boot reports it as `boot.failed variable=KAFKA_BROKERS`.
 */
export class BusUnreachableError extends Error {
  readonly variable = 'KAFKA_BROKERS';
  constructor(
    readonly brokers: string[],
    problem: string,
  ) {
    super(`KAFKA_BROKERS: cannot reach Kafka at ${brokers.join(',')}: ${problem}`);
    this.name = 'BusUnreachableError';
  }
}

function describe(err: NodeJS.ErrnoException & { hostname?: string }): string {
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `host does not resolve (getaddrinfo ${err.code})`;
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  return err.code ?? err.message;
}

/** Undefined once `broker` (host:port) accepts a TCP connection, else why not. */
function probe(broker: string, timeoutMs: number): Promise<string | undefined> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(broker.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done());
    socket.once('error', (err) => done(describe(err)));
  });
}

/**
 * Resolves when at least one broker accepts a connection within `timeoutMs`;
 * otherwise throws a BusUnreachableError naming each broker and its problem.
 */
export async function reachBrokers(brokers: string[], timeoutMs: number): Promise<void> {
  const problems = await Promise.all(brokers.map((b) => probe(b, timeoutMs)));
  if (problems.some((p) => p === undefined)) return;
  const each = brokers.map((b, i) => `${b} ${problems[i]}`).join('; ');
  throw new BusUnreachableError(brokers, each);
}
