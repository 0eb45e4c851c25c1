import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import { GapList, GapQuery, MeteringStats, RejectedList, RejectedQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import { consumerLag, recentLogChanges } from '../consumer/log-report.ts';
import { listGaps, listRejected, readMessageCounts } from './store.ts';

export interface ReportDeps {
  pool: pg.Pool;
  bus: Bus;
  topic: string;
  groupId: string;
}

/** What operators read: counters, kept rejections, subjects with a sequence hole. */
export function reportRoutes(app: FastifyInstance, deps: ReportDeps): void {
  app.get('/v1/stats', async () => {
    // The totals and the per-source and per-partition lists are of one moment (one statement).
    const [lag, { totals, sources, partitions }, logChanges] = await Promise.all([
      consumerLag(deps.pool, deps.bus, deps.topic),
      readMessageCounts(deps.pool),
      recentLogChanges(deps.pool),
    ]);
    return MeteringStats.parse({ ...totals, consumer_lag: lag, sources, partitions, log_changes: logChanges });
  });

  app.get('/v1/rejected', async (req, reply) => {
    const q = parseQuery(RejectedQuery, req.query);
    if (!q.success) return reply.code(400).send(queryError(q.error));
    const rejected = await listRejected(deps.pool, q.data);
    const next = rejected.length === q.data.limit ? rejected.at(-1)!.id : null;
    return RejectedList.parse({ rejected, next_after: next });
  });

  app.get('/v1/gaps', async (req, reply) => {
    const q = parseQuery(GapQuery, req.query);
    if (!q.success) return reply.code(400).send(queryError(q.error));
    const gaps = await listGaps(deps.pool, q.data);
    const next = gaps.length === q.data.limit ? gaps.at(-1)!.subject : null;
    return GapList.parse({ gaps, next_after: next });
  });
}
