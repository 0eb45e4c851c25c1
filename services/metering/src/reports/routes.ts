import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import { withTransaction } from '@vault/db';
import { GapList, GapQuery, MeteringStats, RejectedList, RejectedQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import { consumerLag, readLogEnds, recentLogChanges } from '../consumer/log-report.ts';
import { refuseQuery } from '../no-query.ts';
import { listGaps, listRejected, readMessageCounts } from './store.ts';

export interface ReportDeps {
  pool: pg.Pool;
  bus: Bus;
  topic: string;
  groupId: string;
}

/** What operators read: counters, kept rejections, subjects with a sequence hole. */
export function reportRoutes(app: FastifyInstance, deps: ReportDeps): void {
  app.get('/v1/stats', { onRequest: refuseQuery }, async () => {
    const ends = await readLogEnds(deps.bus, deps.topic);
    // One snapshot: a batch's counts, its position and the log change it found commit together,
    // so an answer never counts a batch whose change (or position) it does not show.
    const { lag, counts, logChanges } = await withTransaction(
      deps.pool,
      async (client) => ({
        lag: await consumerLag(client, deps.topic, ends),
        counts: await readMessageCounts(client),
        logChanges: await recentLogChanges(client),
      }),
      { isolation: 'repeatable read', name: 'metering.stats' },
    );
    const { totals, sources, partitions } = counts;
    return MeteringStats.parse({ ...totals, consumer_lag: lag, sources, partitions, log_changes: logChanges });
  });

  app.get('/v1/rejected', async (req, reply) => {
    const q = parseQuery(RejectedQuery, req.query);
    if (!q.success) return reply.code(400).send(queryError(q.error));
    const { rejected, nextAfter } = await listRejected(deps.pool, q.data);
    return RejectedList.parse({ rejected, next_after: nextAfter });
  });

  app.get('/v1/gaps', async (req, reply) => {
    const q = parseQuery(GapQuery, req.query);
    if (!q.success) return reply.code(400).send(queryError(q.error));
    const gaps = await listGaps(deps.pool, q.data);
    const next = gaps.length === q.data.limit ? gaps.at(-1)!.subject : null;
    return GapList.parse({ gaps, next_after: next });
  });
}
