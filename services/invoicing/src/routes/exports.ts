import type { FastifyInstance } from 'fastify';
import type { InvoicingDeps } from '../app.ts';

// Placeholder until the exports land (issue 4).
export function exportRoutes(_http: FastifyInstance, _deps: InvoicingDeps): void {}
