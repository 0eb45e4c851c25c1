import type { FastifyInstance } from 'fastify';
import { RequiredPeriodQuery } from '@vault/contracts';
import { parseQuery, queryError } from '@vault/runtime';
import type { InvoicingDeps } from '../deps.ts';
import { isStaff } from '../access/tokens.ts';
import { EXPORT_KINDS, exportStream } from './index.ts';

/**
 * Finance's CSV exports of one period's finalized invoices and their lines
 * (`GET /v1/exports/invoices.csv|lines.csv?period=YYYY-MM`), admin or finance
 * only. Streamed from a database cursor as the client reads; each file ends
 * with a control row, so a download cut short is visible as one.
 */
export function exportRoutes(http: FastifyInstance, deps: InvoicingDeps): void {
  for (const kind of EXPORT_KINDS) {
    http.get(`/v1/exports/${kind}.csv`, async (req, reply) => {
      if (!isStaff(req.principal)) return reply.code(403).send({ error: 'finance exports need an admin or finance token' });
      const query = parseQuery(RequiredPeriodQuery, req.query);
      if (!query.success) return reply.code(400).send(queryError(query.error));
      const { period } = query.data;
      const started = performance.now();
      const stream = exportStream(deps.pool, kind, period, {
        onDone: (s) =>
          deps.log.info('export.done', {
            kind,
            period,
            rows: s.rows,
            total: s.total,
            'measure#invoicing.export.duration': `${(performance.now() - started).toFixed(0)}ms`,
          }),
      });
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${kind}-${period}.csv"`)
        .header('cache-control', 'no-store')
        .send(stream);
    });
  }
}
