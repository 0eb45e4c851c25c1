// The delivery loop: empties the outbox (gateway_sandbox.deliveries) by
// POSTing each event to its endpoint, signed, until a 2xx (at-least-once).
// Rows are claimed with FOR UPDATE SKIP LOCKED, so several loops (or a loop
// restarted after kill -9) never deliver one row concurrently; a crash mid-POST
// leaves the row undelivered and it is sent again. A failure waits
// base × 2^(attempts−1), at most `maxDelayMs`, then is retried. Credentials in
// an endpoint's URL go as basic auth, as Stripe sends them (endpoint-url.ts).
import type pg from 'pg';
import { withTransaction } from '@vault/db';
import { startLoop, type Logger } from '@vault/runtime';
import { deleteExpiredKeys } from '../api/idempotency.ts';
import { getEvent } from '../resources/events.ts';
import { deliveryTarget } from './endpoint-url.ts';
import { signatureHeader } from './sign.ts';

export interface DeliveryOptions {
  pool: pg.Pool;
  log: Logger;
  /** How often the outbox is polled when nothing wakes the loop. */
  pollMs?: number;
  /** The wait after the first failure; doubles with each further failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** An endpoint that has not answered by then counts as failed. */
  timeoutMs?: number;
  batchSize?: number;
}

export interface DeliveryLoop {
  /** Look at the outbox now (called after a commit that wrote events). */
  wake(): void;
  stop(): Promise<void>;
}

interface Due {
  event_id: string;
  endpoint_id: string;
  attempts: number;
  url: string;
  secret: string;
}

/** The wait before attempt `attempts + 1`, after `attempts` failures. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(attempts - 1, 0), maxMs);
}

export function startDelivery(opts: DeliveryOptions): DeliveryLoop {
  const pollMs = opts.pollMs ?? 500;
  const baseMs = opts.baseDelayMs ?? 1000;
  const maxMs = opts.maxDelayMs ?? 3_600_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const batchSize = opts.batchSize ?? 20;
  const { pool, log } = opts;
  let stopped = false;
  let lastCleanup = 0;
  // Stopping aborts POSTs in flight; their rows roll back and are sent again later.
  const stopping = new AbortController();

  async function post(due: Due, body: string): Promise<{ status: number | null; error: string | null }> {
    const header = signatureHeader(due.secret, Math.floor(Date.now() / 1000), body);
    try {
      const target = deliveryTarget(due.url);
      const res = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'stripe-signature': header,
          ...(target.authorization ? { authorization: target.authorization } : {}),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return { status: res.status, error: null };
    } catch (err) {
      return { status: null, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
  }

  /** One pass: delivers what is due; returns how many rows it tried. */
  async function runOnce(): Promise<number> {
    return withTransaction(
      pool,
      async (client) => {
        const { rows } = await client.query<Due>(
          `select d.event_id, d.endpoint_id, d.attempts, w.url, w.secret
           from gateway_sandbox.deliveries d join gateway_sandbox.webhook_endpoints w on w.id = d.endpoint_id
          where d.delivered_at is null and d.next_attempt_at <= now() and w.status = 'enabled'
          order by d.next_attempt_at
          limit $1
          for update of d skip locked`,
          [batchSize],
        );
        // One client runs one query at a time (node-pg queues the rest, and warns it will stop): the
        // bodies are read, then the POSTs go out together, then each answer is written, in turn.
        const bodies: string[] = [];
        for (const due of rows) bodies.push(JSON.stringify((await getEvent(client, due.event_id))!, null, 2));
        // Settled, not all: one POST's failure must not end the transaction while the others are in flight.
        const answers = await Promise.allSettled(
          rows.map(async (due, i) => {
            const started = Date.now();
            return { ...(await post(due, bodies[i]!)), ms: Date.now() - started };
          }),
        );
        const settled: PromiseSettledResult<void>[] = [];
        for (const [i, due] of rows.entries()) {
          const answer = answers[i]!;
          if (answer.status === 'rejected') {
            settled.push(answer);
            continue;
          }
          const { status, error, ms } = answer.value;
          const attempt = due.attempts + 1;
          const fields = {
            event_id: due.event_id,
            endpoint: due.endpoint_id,
            status: status ?? 'none',
            attempt,
            'measure#gateway.webhook_ms': ms,
          };
          if (status !== null && status >= 200 && status < 300) {
            await client.query(
              `update gateway_sandbox.deliveries set attempts = $3, delivered_at = now(), last_status = $4, last_error = null
              where event_id = $1 and endpoint_id = $2`,
              [due.event_id, due.endpoint_id, attempt, status],
            );
            log.info('gateway.webhook_delivered', fields);
          } else {
            const delay = retryDelayMs(attempt, baseMs, maxMs);
            await client.query(
              `update gateway_sandbox.deliveries
                set attempts = $3, last_status = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $6)
              where event_id = $1 and endpoint_id = $2`,
              [due.event_id, due.endpoint_id, attempt, status, error, delay / 1000],
            );
            log.warn('gateway.webhook_failed', { ...fields, error: error ?? undefined, retry_in_ms: delay });
          }
        }
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
        if (stopped) throw new Error('stopping: deliveries in flight are rolled back');
        return rows.length;
      },
      { log, name: 'sandbox.deliver' },
    );
  }

  /** Expired idempotency records are dropped, at most once a minute. */
  async function cleanup(): Promise<void> {
    if (Date.now() - lastCleanup < 60_000) return;
    lastCleanup = Date.now();
    const expired = await deleteExpiredKeys(pool);
    if (expired) log.count('gateway.idempotency_keys_expired', expired);
  }

  const loop = startLoop({
    everyMs: pollMs,
    async tick() {
      await cleanup();
      // A full batch: more may be waiting, so go on at once.
      return (await runOnce()) === batchSize;
    },
    onError: (err) => log.error('gateway.delivery_failed', err),
  });

  return {
    wake: () => loop.wake(),
    async stop() {
      stopped = true;
      stopping.abort();
      await loop.stop();
    },
  };
}
