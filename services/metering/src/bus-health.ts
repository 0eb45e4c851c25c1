// GET /health's bus half: metering's job is taking events and consuming them, and with its bus
// gone it can do neither (a stopped Kafka broker left /health 200 for minutes while every
// POST /v1/events was a 503). Judged from the consumer's own signals (`Consumer.reach()`), so an
// idle topic on a bus that answers is no problem, and only past a threshold, so a broker's
// restart or a rebalance (seconds) does not flap it.
import type { Bus, BusReach, Consumer } from '@vault/bus';
import { type Logger, startLoop, type Unhealthy } from '@vault/runtime';

/**
 * How long the consumer may go without reaching its bus before GET /health says so: a broker's restart
 * or a rebalance takes seconds, an idle topic's bus answers every 5 s at most. A constant, not a
 * variable: every variable metering reads must also be passed through docker-compose.yml.
 */
export const BUS_UNREACHABLE_AFTER_MS = 30_000;

/** How often the transitions are looked for, so each is logged when it happens, not at the next probe. */
const WATCH_EVERY_MS = 1_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** What the consumer's reach says of the bus `now`; undefined while it answered within `thresholdMs`. */
export function busProblem(reach: BusReach, kind: Bus['kind'], now: number, thresholdMs: number): BusLoss | undefined {
  // In its handler: the consumer's own work (a long batch; the database's state is the database check's).
  if (reach.busy) return undefined;
  const detail = reach.lastError ?? 'no error seen: its requests went unanswered';
  if (now - reach.lastReached > thresholdMs) {
    const since = reach.lastReached;
    const reason =
      kind === 'kafka'
        ? `kafka bus unreachable: no broker has answered the consumer since ${iso(since)}`
        : `embedded bus unreachable: no read of the log has succeeded since ${iso(since)}`;
    return { reason, detail, since };
  }
  const out = reach.outOfGroupSince;
  if (out !== undefined && now - out > thresholdMs)
    return { reason: `kafka bus: the consumer has been rejoining its group since ${iso(out)}`, detail, since: out };
  return undefined;
}

export interface BusLoss extends Unhealthy {
  /** Epoch ms: since when. */
  since: number;
}

export interface BusHealth {
  /** The bus's problem now, for GET /health (`reason` answered, `detail` logged), or undefined. */
  check(): Unhealthy | undefined;
  stop(): Promise<void>;
}

export interface BusHealthOptions {
  consumer: Pick<Consumer, 'reach'>;
  kind: Bus['kind'];
  /** Default BUS_UNREACHABLE_AFTER_MS. */
  thresholdMs?: number;
  log: Logger;
  now?: () => number;
}

/**
 * Watches the consumer's reach: `bus.unreachable` (warn) once when it is lost past the threshold,
 * `bus.reachable` (info) once when it is back. A loss keeps the detail it was first seen with, so
 * GET /health's own log line (health.unavailable) is written once for it too.
 */
export function watchBus(o: BusHealthOptions): BusHealth {
  const now = o.now ?? Date.now;
  let loss: BusLoss | undefined;
  const observe = (): Unhealthy | undefined => {
    const at = now();
    const seen = busProblem(o.consumer.reach(), o.kind, at, o.thresholdMs ?? BUS_UNREACHABLE_AFTER_MS);
    if (seen && seen.reason !== loss?.reason) {
      loss = seen;
      o.log.warn('bus.unreachable', { bus: o.kind, reason: seen.reason, detail: seen.detail, 'count#metering.bus_unreachable': 1 });
    } else if (!seen && loss) {
      o.log.info('bus.reachable', { bus: o.kind, was: loss.reason, down_for: `${Math.round((at - loss.since) / 1000)}s` });
      loss = undefined;
    }
    return loss && { reason: loss.reason, detail: loss.detail };
  };
  const loop = startLoop({
    everyMs: WATCH_EVERY_MS,
    tick: async () => {
      observe();
    },
    onError: (err) => o.log.error('bus.watch_failed', err),
  });
  return { check: observe, stop: () => loop.stop() };
}
