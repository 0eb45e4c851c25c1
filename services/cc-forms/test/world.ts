// cc-forms' test world: a fresh database with invoicing's and cc-forms'
// migrations, account tokens in invoicing's table, the app in process over a
// fake gateway.
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { migrate } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { ccFormsRoutes } from '../src/app.ts';
import { fakeGateway, type FakeGateway } from './fake-gateway.ts';

export const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
/** Invoicing's migrations provide `invoicing.sign_in_tokens`; applied as SQL files, no invoicing code is imported. */
export const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../invoicing/migrations', import.meta.url));

export const GATEWAY_ORIGIN = 'http://localhost:3999';
export const GATEWAY_JS = `${GATEWAY_ORIGIN}/v3/`;
export const PUBLISHABLE_KEY = 'pk_test_vault_sandbox';

export interface World {
  db: TestDatabase;
  gateway: FakeGateway;
  log: ReturnType<typeof memoryLogger>;
  http: FastifyInstance;
  /** A new app instance over the same database (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function world(options: { attemptsPerHour?: number; invoicing?: boolean } = {}): Promise<World> {
  const db = await freshDatabase('ccf');
  // cc-forms first: invoicing's later migrations may read cc_forms.cards_on_file.
  await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  if (options.invoicing !== false) await migrate(db.pool, 'invoicing', INVOICING_MIGRATIONS);
  const gateway = fakeGateway();
  const log = memoryLogger({ app: 'cc-forms' });
  const build = () => {
    const http = createHttpApp(log);
    ccFormsRoutes(http, {
      pool: db.pool,
      gateway,
      log,
      attemptsPerHour: options.attemptsPerHour ?? 10,
      publishableKey: PUBLISHABLE_KEY,
      gatewayJs: GATEWAY_JS,
      gatewayOrigins: [GATEWAY_ORIGIN],
    });
    return http;
  };
  const w: World = {
    db,
    gateway,
    log,
    http: build(),
    async restart() {
      await w.http.close();
      w.http = build();
    },
    async close() {
      await w.http.close();
      await db.drop();
    },
  };
  return w;
}

/** An account's sign-in token, stored (as invoicing does) as its sha256 only. */
export async function accountToken(w: World, accountId: string): Promise<string> {
  const token = `vt_acct_${randomBytes(24).toString('base64url')}`;
  await w.db.pool.query(`insert into invoicing.tokens (hash, kind, account_id) values ($1, 'account', $2)`, [
    createHash('sha256').update(token).digest('hex'),
    accountId,
  ]);
  return token;
}

export async function financeToken(w: World): Promise<string> {
  const token = `vt_fin_${randomBytes(24).toString('base64url')}`;
  await w.db.pool.query(`insert into invoicing.tokens (hash, kind) values ($1, 'finance')`, [
    createHash('sha256').update(token).digest('hex'),
  ]);
  return token;
}

export const SESSION_COOKIE = 'vault_card_session';

export function sessionFrom(res: LightMyRequestResponse): string | undefined {
  const header = res.headers['set-cookie'];
  const text = Array.isArray(header) ? header.join('\n') : (header ?? '');
  return new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(text)?.[1] || undefined;
}

/** The session's CSRF token, as the card page carries it. */
export function csrfFrom(body: string): string {
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(body)?.[1];
  if (!token) throw new Error('the page has no CSRF token');
  return token;
}

export interface Browser {
  session: string;
  csrf: string;
  get(url: string): Promise<LightMyRequestResponse>;
  /** JSON as the card form's script posts it; `csrf: null` leaves the token out. */
  postJson(url: string, body: unknown, csrf?: string | null): Promise<LightMyRequestResponse>;
}

/** Signs in with the token and opens /card, as a browser would. */
export async function signIn(w: World, token: string): Promise<Browser> {
  const res = await w.http.inject({ method: 'GET', url: `/signin?token=${encodeURIComponent(token)}` });
  const session = sessionFrom(res);
  if (res.statusCode !== 303 || !session) throw new Error(`sign-in failed: ${res.statusCode}`);
  const cookie = { cookie: `${SESSION_COOKIE}=${session}` };
  const page = await w.http.inject({ method: 'GET', url: '/card', headers: cookie });
  const csrf = csrfFrom(page.body);
  return {
    session,
    csrf,
    get: (url) => w.http.inject({ method: 'GET', url, headers: cookie }),
    postJson: (url, body, token = csrf) =>
      w.http.inject({
        method: 'POST',
        url,
        headers: { ...cookie, 'content-type': 'application/json', ...(token === null ? {} : { 'x-csrf-token': token }) },
        payload: JSON.stringify(body),
      }),
  };
}
