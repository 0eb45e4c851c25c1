import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Bus } from '@vault/bus';
import { adminOnly, requireBearer } from '@vault/runtime';
import { eventsRoutes } from './routes/events.ts';
import { reportRoutes } from './routes/reports.ts';

export interface MeteringAppDeps {
  pool: pg.Pool;
  bus: Bus;
  topic: string;
  adminToken: string;
  /** The consumer group whose lag `GET /v1/stats` reports. */
  groupId: string;
}

/** Metering's HTTP surface (api.md): intake and operators' reports, admin token only. */
export function meteringRoutes(http: FastifyInstance, deps: MeteringAppDeps): void {
  requireBearer(http, adminOnly(deps.adminToken));
  eventsRoutes(http, deps);
  reportRoutes(http, deps);
}
