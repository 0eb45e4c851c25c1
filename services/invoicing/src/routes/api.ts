import type { FastifyInstance } from 'fastify';
import type { InvoicingDeps } from '../app.ts';

export function apiRoutes(_http: FastifyInstance, _deps: InvoicingDeps): void {}
