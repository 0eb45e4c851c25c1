// The card form's own script and stylesheet, read once at boot from ../../static.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const ASSETS: Record<string, { type: string; body: string }> = {
  'card.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('../../static/card.js', import.meta.url), 'utf8') },
  'card.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('../../static/card.css', import.meta.url), 'utf8') },
};

export function assetRoutes(web: FastifyInstance): void {
  for (const [name, asset] of Object.entries(ASSETS)) {
    web.get(`/static/${name}`, async (_req, reply) => reply.type(asset.type).send(asset.body));
  }
}
