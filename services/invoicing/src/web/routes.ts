import type { FastifyInstance } from 'fastify';
import type { InvoicingDeps } from '../app.ts';

/** Routes that authenticate by cookie session, not bearer token. */
export const WEB_PATHS: string[] = [];

// Placeholder until the web UI lands (issue 4).
export function webRoutes(_http: FastifyInstance, _deps: InvoicingDeps): void {}
