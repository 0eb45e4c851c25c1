import type { FastifyInstance } from 'fastify';
import { requireBearer } from '@vault/runtime';
import { METERING_REACH, meteringAccess } from './access/tokens.ts';
import type { MeteringAppDeps } from './deps.ts';
import { eventsRoutes } from './intake/routes.ts';
import { reportRoutes } from './reports/routes.ts';

/**
 * Metering's HTTP surface (api.md): intake and operators' reports. The admin
 * token reaches every route; a publisher token only POST /v1/events.
 */
export function meteringRoutes(http: FastifyInstance, deps: MeteringAppDeps): void {
  const access = meteringAccess(deps.pool, deps.adminToken, deps.log);
  requireBearer(http, access.verify, { reach: METERING_REACH, unverifiable: access.unverifiable });
  eventsRoutes(http, deps);
  reportRoutes(http, deps);
}
