// The card form's own scripts and stylesheet, read once at boot from ../../static,
// and the shared icon at /favicon.ico.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { FAVICON } from '@vault/web';

const file = (name: string) => readFileSync(new URL(`../../static/${name}`, import.meta.url), 'utf8');
const SCRIPT = 'text/javascript; charset=utf-8';

const ASSETS: Record<string, { type: string; body: string }> = {
  'card.js': { type: SCRIPT, body: file('card.js') },
  'pay.js': { type: SCRIPT, body: file('pay.js') },
  'card.css': { type: 'text/css; charset=utf-8', body: file('card.css') },
};

export function assetRoutes(web: FastifyInstance): void {
  for (const [name, asset] of Object.entries(ASSETS)) {
    web.get(`/static/${name}`, async (_req, reply) => reply.type(asset.type).send(asset.body));
  }
  web.get(FAVICON.path, async (_req, reply) => reply.type(FAVICON.type).header('cache-control', FAVICON.cacheControl).send(FAVICON.body));
}
