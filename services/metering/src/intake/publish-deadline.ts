// The HTTP door's publish: bounded by a deadline, and a bus that does not take
// the events answered 503 naming the bus, never a bare 500 minutes later.
import type { FastifyReply } from 'fastify';
import type { OutgoingMessage } from '@vault/bus';
import type { IntakeDeps } from './intake.ts';

/**
 * How long `POST /v1/events` and a re-submit wait for the bus to acknowledge a publish. Under
 * the request timeout (30 s by default) and the proxies' usual 30–60 s; a healthy bus takes a
 * 4 MiB body in well under a second, and the Kafka producer gives up on a broker that is down
 * within about 8 s (packages/bus/src/kafka-producer.ts), so this is reached only by a bus that
 * hangs. Kafka went on trying for 213 s, then the answer was a bare 500.
 */
export const PUBLISH_DEADLINE_MS = 15_000;

/** Retry-After (seconds) of a 503 for a bus that did not take the events. */
export const BUS_RETRY_AFTER_S = 10;

/** The bus did not acknowledge a publish: it failed (`failed`), or was not done within the deadline (`timeout`). */
export class BusUnavailable extends Error {
  constructor(
    readonly why: 'failed' | 'timeout',
    readonly busKind: string,
    options?: { cause: unknown },
  ) {
    super(
      why === 'timeout' ? `the ${busKind} bus did not acknowledge the publish in time` : `the ${busKind} bus failed the publish`,
      options,
    );
    this.name = 'BusUnavailable';
  }
}

/**
 * `deps.bus.publish`, resolved once every message is durable. With `publishWithinMs`
 * (the HTTP door's) it waits no longer: a BusUnavailable `timeout` then (the publish goes
 * on, and may still land), or `failed` when the bus rejects it. Without, as the bus takes
 * it (`vault publish`), its error as thrown.
 */
export async function publishDurable(deps: IntakeDeps, messages: OutgoingMessage[]): Promise<void> {
  const within = deps.publishWithinMs;
  if (within === undefined) return deps.bus.publish(deps.topic, messages);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusUnavailable('timeout', deps.bus.kind)), within);
  });
  const publishing = deps.bus.publish(deps.topic, messages).catch((err: unknown) => {
    throw new BusUnavailable('failed', deps.bus.kind, { cause: err });
  });
  try {
    await Promise.race([publishing, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A 503 for a BusUnavailable, with Retry-After, saying what may be on the bus and that
 * sending again is safe: metering dedupes by (source, id), so a copy already there is
 * counted as a duplicate, and a bad line's copy as a duplicate of its kept rejection.
 * The bus's own error is logged, not answered. Undefined for any other error.
 */
export function answerBusUnavailable(reply: FastifyReply, err: unknown, deps: IntakeDeps, again: string): FastifyReply | undefined {
  if (!(err instanceof BusUnavailable)) return undefined;
  const waited =
    err.why === 'timeout' ? `did not acknowledge the events within ${(deps.publishWithinMs ?? 0) / 1000} s` : 'failed to take the events';
  deps.log?.warn('intake.bus_unavailable', {
    bus: err.busKind,
    why: err.why,
    path: reply.request.routeOptions.url ?? '',
    ...(err.cause === undefined ? {} : { error: (err.cause as Error)?.message ?? String(err.cause) }),
    'count#intake.bus_unavailable': 1,
  });
  return reply
    .code(503)
    .header('retry-after', String(BUS_RETRY_AFTER_S))
    .send({
      error:
        `the ${err.busKind} bus ${waited}, so none of them is counted as accepted; part of them may already be on the bus ` +
        `(or still get there): ${again} is safe, as an event already there is counted as a duplicate (the same source and id)`,
    });
}
