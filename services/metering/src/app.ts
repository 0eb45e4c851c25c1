import type { FastifyInstance } from 'fastify';
import { adminOnly, requireBearer } from '@vault/runtime';
import type { MeteringAppDeps } from './deps.ts';
import { eventsRoutes } from './intake/routes.ts';
import { reportRoutes } from './reports/routes.ts';

/** Metering's HTTP surface (api.md): intake and operators' reports, admin token only. */
export function meteringRoutes(http: FastifyInstance, deps: MeteringAppDeps): void {
  requireBearer(http, adminOnly(deps.adminToken));
  eventsRoutes(http, deps);
  reportRoutes(http, deps);
}
