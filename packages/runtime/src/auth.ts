import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from './log.ts';

/** Who a bearer token speaks for. The admin token reaches everything. */
export type Principal = { kind: 'admin' } | { kind: 'finance' } | { kind: 'account'; accountId: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** False on routes that authenticate some other way (a web page's cookie session). */
    bearer?: boolean;
  }
}

export type TokenVerifier = (token: string) => Principal | undefined | Promise<Principal | undefined>;

/** Routes reachable without a token (api.md: every route but /health needs one). */
const OPEN = new Set(['/health']);

/**
 * Every route but /health and those declaring `config: { bearer: false }`
 * needs `Authorization: Bearer <token>`; an unknown token is 401. Which
 * principal may reach which resource is each route's business
 * (`request.principal`).
 */
export function requireBearer(app: FastifyInstance, verify: TokenVerifier): void {
  app.addHook('onRequest', async (req, reply) => {
    if (OPEN.has(req.routeOptions.url ?? '') || req.routeOptions.config.bearer === false) return;
    const token = bearer(req);
    const principal = token === undefined ? undefined : await verify(token);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer');
      return reply.code(401).send({ error: token === undefined ? 'missing bearer token' : 'invalid token' });
    }
    req.principal = principal;
  });
}

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** A verifier that knows only the admin token. */
export function adminOnly(adminToken: string): TokenVerifier {
  const expected = Buffer.from(adminToken);
  return (token) => {
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected) ? { kind: 'admin' } : undefined;
  };
}

/**
 * ADMIN_TOKEN, or in development (unset) a fresh one, printed so the operator
 * can use it. `vault start` generates one for all apps; an app started alone
 * generates its own.
 */
export function resolveAdminToken(configured: string | undefined, log: Logger): string {
  if (configured) return configured;
  const token = `dev_${randomBytes(18).toString('base64url')}`;
  log.warn('admin_token.generated', { admin_token: token, hint: 'set ADMIN_TOKEN to keep one' });
  return token;
}
