import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import { GapList, MeteringStats, RejectedList, RejectedQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import { consumerLag, recentLogChanges } from '../consumer/log-report.ts';
import { listGaps, listRejected, readCounters, readMessageCounts } from './store.ts';

export interface ReportDeps {
  pool: pg.Pool;
  bus: Bus;
  topic: string;
  groupId: string;
}

/** What operators read: counters, kept rejections, subjects with a sequence hole. */
export function reportRoutes(app: FastifyInstance, deps: ReportDeps): void {
  app.get('/v1/stats', async () => {
    const [counters, lag, messages, logChanges] = await Promise.all([
      readCounters(deps.pool),
      consumerLag(deps.pool, deps.bus, deps.topic),
      readMessageCounts(deps.pool),
      recentLogChanges(deps.pool),
    ]);
    return MeteringStats.parse({ ...counters, consumer_lag: lag, ...messages, log_changes: logChanges });
  });

  app.get('/v1/rejected', async (req, reply) => {
    const q = parseQuery(RejectedQuery, req.query);
    if (!q.success) return reply.code(400).send(queryError(q.error));
    const rejected = await listRejected(deps.pool, q.data);
    const next = rejected.length === q.data.limit ? rejected.at(-1)!.id : null;
    return RejectedList.parse({ rejected, next_after: next });
  });

  app.get('/v1/gaps', async () => GapList.parse({ gaps: await listGaps(deps.pool) }));
}
