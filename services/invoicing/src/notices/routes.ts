// `GET /v1/notices?after=CURSOR&limit=N` (api.md "Notices"): every notice,
// oldest first, whether or not Kafka is configured. Admin only: the route is
// not in INVOICING_REACH, so every other token is refused before this runs.
import type { FastifyInstance } from 'fastify';
import { NoticeList, NoticeQuery } from '@vault/contracts';
import { fieldsError, parseQuery, queryError } from '@vault/runtime';
import type { InvoicingDeps } from '../deps.ts';
import { CursorAheadError, readNotices } from './outbox.ts';

export function noticeRoutes(app: FastifyInstance, { pool }: Pick<InvoicingDeps, 'pool'>): void {
  app.get('/v1/notices', async (req, reply) => {
    const query = parseQuery(NoticeQuery, req.query);
    if (!query.success) return reply.code(400).send(queryError(query.error));
    try {
      return NoticeList.parse(await readNotices(pool, query.data.after, query.data.limit));
    } catch (err) {
      if (!(err instanceof CursorAheadError)) throw err;
      return reply.code(400).send(fieldsError('query', [{ field: 'after', message: err.message }]));
    }
  });
}
