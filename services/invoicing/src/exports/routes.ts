import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type pg from 'pg';
import { RequiredPeriodQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import type { InvoicingDeps } from '../deps.ts';
import { isStaff } from '../access/tokens.ts';
import { MeteringNotReadyError } from '../billing/metering-schema.ts';
import { checkMonthComplete, DEFAULT_GRACE_HOURS, EXPORT_KINDS, MonthNotDueError, MonthNotFinalizedError } from './index.ts';
import { CreditsNotFinalError, quietLedger, releaseLedger } from './credits-final.ts';
import { openExportStream } from './stream.ts';

/** Exports streaming at once, each holding one connection of the exports' pool (its size in the app). */
export const EXPORT_CONCURRENCY = 3;
/** When an export refused for want of a slot is told to come back (Retry-After). */
export const EXPORT_RETRY_AFTER_SECONDS = 30;

/**
 * Finance's CSV exports of one period's finalized invoices and their lines
 * (`GET /v1/exports/invoices.csv|lines.csv?period=YYYY-MM`), admin or finance
 * only. Streamed from a database cursor as the client reads; each file ends
 * with a control row, so a download cut short is visible as one. They read
 * through their own pool (deps.exports), at most `concurrency` at once: one
 * more is 429 with Retry-After, so slow downloads never starve the app. A
 * HEAD gets the GET's answer without the stream: it runs no export.
 */
export function exportRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  const pool = deps.exports?.pool ?? deps.pool;
  const concurrency = deps.exports?.concurrency ?? EXPORT_CONCURRENCY;
  const graceHours = deps.exports?.graceHours ?? DEFAULT_GRACE_HOURS;
  let streaming = 0;
  for (const kind of EXPORT_KINDS) {
    /** The route, as its log lines name it. */
    const route = `/v1/exports/${kind}.csv`;
    const handler: RouteHandlerMethod = async (req, reply) => {
      if (!isStaff(req.principal)) return reply.code(403).send({ error: 'finance exports need an admin or finance token' });
      const query = parseQuery(RequiredPeriodQuery, req.query);
      if (!query.success) return reply.code(400).send(queryError(query.error));
      const { period } = query.data;
      if (streaming >= concurrency) {
        deps.log.warn('export.refused', { kind, period, streaming, 'count#invoicing.export.refused': 1 });
        return reply
          .code(429)
          .header('retry-after', String(EXPORT_RETRY_AFTER_SECONDS))
          .send({ error: `${concurrency} exports are already running, the most at once: try again in ${EXPORT_RETRY_AFTER_SECONDS} s` });
      }
      // A GET's slot is taken before the first await, so requests arriving together cannot all
      // see one free; it is held until the response is over: finished, failed, or cut short by
      // the client. A HEAD runs no export and takes none.
      const head = req.method === 'HEAD';
      if (!head) streaming++;
      let released = head;
      const release = () => {
        if (!released) streaming--;
        released = true;
      };
      reply.raw.once('close', release);
      const now = new Date();
      try {
        await checkMonthComplete(pool, kind, period, { graceHours, now });
        // credits.csv: a ledger writer running is a 409 here, not a stream that fails (the stream checks again).
        if (kind === 'credits') await ledgerQuietNow(pool, period);
      } catch (err) {
        release();
        // A month not due yet: come back at its due time (the schedule finalizes it within a tick of it).
        // credits.csv of a month not over: at its end; one whose ledger is still being written: a tick later.
        if (err instanceof MonthNotDueError || err instanceof CreditsNotFinalError) {
          return reply
            .code(409)
            .header('retry-after', String(err.retryAfterSeconds(now)))
            .send({ error: err.message });
        }
        // Whether the month had usage cannot be told before metering's views are there: not an empty month.
        if (err instanceof MeteringNotReadyError) {
          return reply.code(503).header('retry-after', String(EXPORT_RETRY_AFTER_SECONDS)).send({ error: err.message });
        }
        if (!(err instanceof MonthNotFinalizedError)) throw err;
        return reply.code(409).header('retry-after', String(EXPORT_RETRY_AFTER_SECONDS)).send({ error: err.message });
      }
      const headers = {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${kind}-${period}.csv"`,
        'cache-control': 'no-store',
      };
      // What a GET would answer, headers only: no slot, no transaction, no cursor.
      if (head) return reply.headers(headers).send();
      const started = performance.now();
      // Its first batch is read here, before any byte (openExportStream): a statement failing there is
      // answered as any route's error (503 with Retry-After at a limit), never a 200 cut short.
      const stream = await openExportStream(pool, kind, period, {
        graceHours,
        prices: deps.prices,
        onDone: (s) =>
          deps.log.info('export.done', {
            kind,
            period,
            rows: s.rows,
            total: s.total,
            'measure#invoicing.export.duration': `${(performance.now() - started).toFixed(0)}ms`,
          }),
      });
      stream.once('close', release);
      // The client gone while the first batch was read: nothing will read the stream, end it (its cursor, its client).
      if (reply.raw.destroyed) stream.destroy();
      else reply.raw.once('close', () => stream.destroy());
      stream.once('error', (err: Error & { code?: unknown }) => {
        // Before the first byte fastify answers it through the error handler, which logs it.
        if (!reply.raw.headersSent) return;
        // After it the status is sent: say so, and cut the connection, so the client never reads a
        // finished chunked body (a file short of rows and of its control row). Fastify logs nothing here.
        deps.log.error('http.stream_failed', err, {
          path: route,
          export: kind,
          period,
          ...(typeof err.code === 'string' ? { code: err.code } : {}),
          'count#http.stream_failed': 1,
        });
        reply.raw.destroy();
      });
      return reply.headers(headers).send(stream);
    };
    // HEAD declared, not derived: Fastify's derived HEAD runs the GET handler
    // and drains its stream, a whole export outside the limit.
    http.route({ method: ['GET', 'HEAD'], url: route, handler });
  }
}

/** Whether a finalize run or credit reversal holds the ledger now: throws CreditsNotFinalError if so (a look, let go of at once). */
async function ledgerQuietNow(pool: pg.Pool, period: string): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await quietLedger(client, period);
    await releaseLedger(client).catch((err: Error) => {
      // Still held: the connection must not go back to the pool with it.
      failed = err;
    });
  } finally {
    client.release(failed);
  }
}
