import { randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from './config.ts';
import type { Logger } from './log.ts';
import { ADMIN_TOKEN_MIN_LENGTH, ADMIN_TOKEN_REQUIRED } from './variables.ts';

/**
 * Who a bearer token speaks for (api.md, "Access"): the admin token reaches
 * everything; finance exports and holds; an account's token that account's
 * API; a publisher's `POST /v1/events` on metering and nothing else. A stored
 * token's principal carries its public id (`tok_…`), never its value.
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'finance'; tokenId?: string }
  | { kind: 'account'; accountId: string; tokenId?: string }
  | { kind: 'publisher'; tokenId?: string };

export type PrincipalKind = Principal['kind'];

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

/** Which principals reach a route, by `METHOD /route/:param` (HEAD as its GET). */
export type Reach = Record<string, readonly PrincipalKind[]>;

export interface BearerOptions {
  /**
   * The routes principals other than admin reach. Deny by default: a route
   * not listed is the admin token's alone, and a token of another kind gets 403.
   */
  reach?: Reach;
  /** Failed authentications one client address may make per window before 429 (default 20 a minute). */
  failures?: { limit: number; windowMs: number };
  /**
   * For a token the verifier does not know: why it cannot be checked here, when the app can tell
   * from the token alone or its own state (metering, of invoicing's account tokens: `metering
   * cannot verify an account token (invoicing's)`), instead of calling it `invalid`. Still 401 and
   * a failed authentication, never a 403: anyone can write a token of a given shape.
   */
  unverifiable?: (token: string) => string | undefined;
}

/** Routes reachable without a token (api.md: every route but /health needs one). */
const OPEN = new Set(['/health']);
const ADMIN_ONLY: readonly PrincipalKind[] = ['admin'];
export const BEARER_FAILURES = { limit: 20, windowMs: 60_000 };

/**
 * Every route but /health and those declaring `config: { bearer: false }`
 * needs `Authorization: Bearer <token>`: none or an unknown token is 401 (`invalid
 * token`, or why the app cannot check it: `options.unverifiable`); a
 * known token on a route its kind does not reach (`options.reach`, admin only
 * by default) is 403. An address that is no route is the app's 404, unless
 * it carries an Authorization header that fails (401). Which account an
 * account's token may see is each route's business (`request.principal`).
 *
 * Failed authentications (a token given that the verifier does not know) are
 * counted per client address (`request.ip`), in this process's memory: past
 * `failures.limit` within `failures.windowMs`, each further failure from that
 * address is 429 with `Retry-After` (the seconds left in the window) instead
 * of 401. Successes are unaffected: they never count, and a valid token is
 * let in even from an address over the limit, so nobody sharing an address
 * (a NAT, a proxy, a load balancer) can lock the others out.
 */
export function requireBearer(app: FastifyInstance, verify: TokenVerifier, options: BearerOptions = {}): void {
  const reach = options.reach ?? {};
  const limiter = failureLimiter(options.failures ?? BEARER_FAILURES);
  /** What a 401 says: no token, one the app can say it cannot check (`unverifiable`), or an invalid one. */
  const refusal = (token: string | undefined, kinds: readonly PrincipalKind[] | undefined) => {
    if (token === undefined) return 'missing bearer token';
    const why = options.unverifiable?.(token);
    return why === undefined ? 'invalid token' : kinds ? `${why}: this route is for ${kinds.join(' or ')} tokens` : why;
  };
  const kindsOf = (req: FastifyRequest) => reach[`${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url}`] ?? ADMIN_ONLY;
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (OPEN.has(route ?? '') || req.routeOptions.config.bearer === false) return;
    // No route and no credentials: the app's not-found answer (a web app's 404 page), not a 401
    // saying a token would open it. A token given is still judged (and counted) first.
    if (route === undefined && req.headers.authorization === undefined) return;
    const token = bearer(req);
    const principal = token === undefined ? undefined : await verify(token);
    if (!principal) {
      if (token !== undefined) limiter.failed(req.ip);
      const retryAfter = limiter.retryAfterSeconds(req.ip);
      if (retryAfter !== undefined) return tooManyFailures(reply, retryAfter);
      reply.header('www-authenticate', 'Bearer');
      return reply.code(401).send({ error: refusal(token, route === undefined ? undefined : kindsOf(req)) });
    }
    // An unknown route is a 404 for any valid token.
    if (route !== undefined) {
      const kinds = kindsOf(req);
      if (!kinds.includes(principal.kind)) return reply.code(403).send({ error: notReached(principal.kind, kinds) });
    }
    req.principal = principal;
  });
  // A route named in `reach` that does not exist is a mistake in the table: the app does not start.
  app.addHook('onReady', async () => {
    for (const key of Object.keys(reach)) {
      const [method, url] = key.split(' ');
      if (!method || !url || !app.hasRoute({ method: method as 'GET', url }))
        throw new Error(`requireBearer: reach names ${key}, which is no route`);
    }
  });
}

/** `an account token does not reach this route: it is for admin or finance tokens` */
function notReached(kind: PrincipalKind, kinds: readonly PrincipalKind[]): string {
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  return `${article} ${kind} token does not reach this route: it is for ${kinds.join(' or ')} tokens`;
}

function tooManyFailures(reply: FastifyReply, retryAfter: number) {
  return reply
    .code(429)
    .header('retry-after', String(retryAfter))
    .send({ error: `too many failed authentications from this address; retry in ${retryAfter} s` });
}

/** Most addresses it remembers; beyond, the expired are forgotten, then the oldest. */
const MAX_ADDRESSES = 10_000;

/** Failures per address in fixed windows, in memory. */
function failureLimiter({ limit, windowMs }: { limit: number; windowMs: number }) {
  const windows = new Map<string, { failures: number; endsAt: number }>();
  const current = (ip: string, now: number) => {
    const w = windows.get(ip);
    if (w && w.endsAt <= now) windows.delete(ip);
    return w && w.endsAt > now ? w : undefined;
  };
  return {
    /** Past the limit: the seconds until the window ends. */
    retryAfterSeconds(ip: string): number | undefined {
      const now = Date.now();
      const w = current(ip, now);
      return w && w.failures > limit ? Math.max(1, Math.ceil((w.endsAt - now) / 1000)) : undefined;
    },
    failed(ip: string): void {
      const now = Date.now();
      const w = current(ip, now);
      if (w) {
        w.failures++;
        return;
      }
      if (windows.size >= MAX_ADDRESSES) {
        for (const [key, old] of windows) if (old.endsAt <= now) windows.delete(key);
        for (const key of windows.keys()) {
          if (windows.size < MAX_ADDRESSES) break;
          windows.delete(key);
        }
      }
      windows.set(ip, { failures: 1, endsAt: now + windowMs });
    },
  };
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

/** What resolveAdminToken reads: the app's settings. */
export interface AdminTokenSettings {
  ADMIN_TOKEN?: string | undefined;
  DATABASE_URL?: string | undefined;
  VAULT_HOME: string;
}

/**
 * ADMIN_TOKEN; unset, only in development (no DATABASE_URL), the
 * installation's token (developmentAdminToken). Its value is never logged,
 * only where it is kept.
 */
export function resolveAdminToken(settings: AdminTokenSettings, log: Logger): string {
  if (settings.ADMIN_TOKEN) return settings.ADMIN_TOKEN;
  // The apps' configuration refuses this already (requireAdminTokenInDeployment); never generate one for a deployment.
  if (settings.DATABASE_URL) throw new ConfigError([{ variable: 'ADMIN_TOKEN', message: ADMIN_TOKEN_REQUIRED }]);
  return useDevelopmentAdminToken(settings.VAULT_HOME, log);
}

/** The development admin token (developmentAdminToken), logged by where it is kept, never by its value. */
export function useDevelopmentAdminToken(vaultHome: string, log: Logger): string {
  const { file, token, created } = developmentAdminToken(vaultHome);
  log.info(created ? 'admin_token.generated' : 'admin_token.development', {
    path: file,
    hint: 'development only: the admin token is in this file; set ADMIN_TOKEN to choose one',
  });
  return token;
}

/**
 * The development admin token: one per installation, in `$VAULT_HOME/admin_token`
 * (mode 0600), generated by the first app or `vault start` that needs it. It is
 * written whole to a file of its own, then linked into place: a link never
 * replaces a file, so apps starting at once (a Procfile) all end up with the
 * first one's token, and none reads half a file.
 */
export function developmentAdminToken(vaultHome: string): { file: string; token: string; created: boolean } {
  const file = resolve(vaultHome, 'admin_token');
  const existing = readAdminTokenFile(file);
  if (existing !== undefined) return { file, token: existing, created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(temporary, `dev_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  let created = true;
  try {
    linkSync(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  } finally {
    unlinkSync(temporary);
  }
  const token = readAdminTokenFile(file);
  if (token === undefined) throw new Error(`${file} vanished while it was being created`);
  return { file, token, created };
}

function readAdminTokenFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value = text.trim();
  if (value.length < ADMIN_TOKEN_MIN_LENGTH || /\s/.test(value)) {
    throw new ConfigError([
      {
        variable: 'ADMIN_TOKEN',
        message: `unset, and ${file} holds no token of at least ${ADMIN_TOKEN_MIN_LENGTH} characters: delete it, or set ADMIN_TOKEN`,
      },
    ]);
  }
  return value;
}
