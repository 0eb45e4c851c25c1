// cc-forms' test world: a fresh database with invoicing's and cc-forms'
// migrations, account tokens and sign-in links in invoicing's tables (written
// as invoicing writes them), the app in process over a fake gateway (or the one
// given: the SDK against the sandbox, sandbox.ts).
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { migrate } from '@vault/db';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { freshDatabase, type TestDatabase } from '@vault/testkit';
import { ccFormsRoutes } from '../src/app.ts';
import type { CardGateway } from '../src/cards/gateway.ts';
import { GATEWAY_LOOKUPS_PER_MINUTE } from '../src/domain/rate-limit.ts';
import { fakeGateway, type FakeGateway } from './fake-gateway.ts';

export const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
/** Invoicing's migrations provide its published sign-in names; applied as SQL files, no invoicing code is imported. */
export const INVOICING_MIGRATIONS = fileURLToPath(new URL('../../invoicing/migrations', import.meta.url));

export const GATEWAY_ORIGIN = 'http://localhost:3999';
export const GATEWAY_JS = `${GATEWAY_ORIGIN}/v3/`;
export const PUBLISHABLE_KEY = 'pk_test_vault_sandbox';
/** Where the pages link back to the customer's invoices. */
export const INVOICING_WEB_URL = 'http://localhost:3998';

export interface World<G extends CardGateway = FakeGateway> {
  db: TestDatabase;
  gateway: G;
  log: ReturnType<typeof memoryLogger>;
  http: FastifyInstance;
  /** A new app instance over the same database (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  attemptsPerHour?: number;
  lookupsPerMinute?: number;
  invoicing?: boolean;
}

export async function world(options?: WorldOptions): Promise<World>;
export async function world<G extends CardGateway>(options: WorldOptions & { gateway: G }): Promise<World<G>>;
export async function world(options: WorldOptions & { gateway?: CardGateway } = {}): Promise<World<CardGateway>> {
  const db = await freshDatabase('ccf');
  // cc-forms first: invoicing's later migrations may read cc_forms.cards_on_file.
  await migrate(db.pool, 'cc_forms', CC_FORMS_MIGRATIONS);
  if (options.invoicing !== false) await migrate(db.pool, 'invoicing', INVOICING_MIGRATIONS);
  const gateway = options.gateway ?? fakeGateway();
  const log = memoryLogger({ app: 'cc-forms' });
  const build = () => {
    const http = createHttpApp(log);
    ccFormsRoutes(http, {
      pool: db.pool,
      gateway,
      log,
      attemptsPerHour: options.attemptsPerHour ?? 10,
      lookupsPerMinute: options.lookupsPerMinute ?? GATEWAY_LOOKUPS_PER_MINUTE,
      publishableKey: PUBLISHABLE_KEY,
      gatewayJs: GATEWAY_JS,
      gatewayOrigins: [GATEWAY_ORIGIN],
      invoicingWebUrl: INVOICING_WEB_URL,
    });
    return http;
  };
  const w: World<CardGateway> = {
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

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** An account's API token, stored as invoicing stores it (sha256, public id); returns its public id, which links are issued with. */
export async function accountToken(w: World<CardGateway>, accountId: string): Promise<string> {
  const id = `tok_${randomBytes(8).toString('hex')}`;
  await w.db.pool.query(`insert into invoicing.tokens (id, hash, kind, account_id) values ($1, $2, 'account', $3)`, [
    id,
    sha256(`vt_acct_${randomBytes(24).toString('base64url')}`),
    accountId,
  ]);
  return id;
}

/** A sign-in link issued with the token, as `vault token create --account` makes one (15 minutes); returns its secret. */
export async function signInLink(w: World<CardGateway>, tokenId: string): Promise<string> {
  const secret = `vl_${randomBytes(32).toString('base64url')}`;
  const { rowCount } = await w.db.pool.query(
    `insert into invoicing.sign_in_links (hash, account_id, token_id, expires_at)
     select $1, account_id, id, now() + interval '15 minutes' from invoicing.tokens where id = $2`,
    [sha256(secret), tokenId],
  );
  if (rowCount !== 1) throw new Error(`no token ${tokenId}`);
  return secret;
}

/**
 * What the invoice pages' `/card-form` makes, written as invoicing writes it: an invoice
 * pages' session of the token (`invoicing.sessions`, ending in `hours`) and a hand-over
 * link for cc-forms made from it. Returns the link's secret and the session's hash.
 */
export async function handOverLink(w: World<CardGateway>, tokenId: string, hours = 12): Promise<{ link: string; parentSession: string }> {
  const parentSession = sha256(randomBytes(32).toString('base64url'));
  await w.db.pool.query(
    `insert into invoicing.sessions (hash, account_id, token_id, link_hash, expires_at)
     select $1, account_id, id, $2, now() + make_interval(hours => $3) from invoicing.tokens where id = $4`,
    [parentSession, sha256(randomBytes(32).toString('base64url')), hours, tokenId],
  );
  const link = `vl_${randomBytes(32).toString('base64url')}`;
  await w.db.pool.query(
    `insert into invoicing.sign_in_links (hash, account_id, token_id, expires_at, app, parent_session)
     select $1, account_id, token_id, now() + interval '15 minutes', 'cc-forms', hash from invoicing.sessions where hash = $2`,
    [sha256(link), parentSession],
  );
  return { link, parentSession };
}

export const SESSION_COOKIE = 'vault_card_session';

export function sessionFrom(res: LightMyRequestResponse): string | undefined {
  const header = res.headers['set-cookie'];
  const text = Array.isArray(header) ? header.join('\n') : (header ?? '');
  return new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(text)?.[1] || undefined;
}

/** `name=value` of every cookie a response sets (what a browser would send back). */
export function cookiesSet(res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header : header ? [header] : []).map((c) => c.split(';')[0]!);
}

/** The sign-in confirmation form's fields (the link and this browser's sign-in CSRF token), from its page. */
export function signInForm(body: string): { link: string; csrf: string } {
  const form = /<form method="post" action="\/signin">([\s\S]*?)<\/form>/.exec(body)?.[1] ?? '';
  const link = /<input type="hidden" name="link" value="([^"]+)">/.exec(form)?.[1];
  const csrf = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(form)?.[1];
  if (!link || !csrf) throw new Error('the page has no sign-in form');
  return { link, csrf };
}

/** Opens the link and presses its button, as a browser with these cookies would; the POST's answer. */
export async function confirmLink(w: World<CardGateway>, link: string, cookies: readonly string[] = []): Promise<LightMyRequestResponse> {
  const opened = await w.http.inject({
    method: 'GET',
    url: `/signin?link=${encodeURIComponent(link)}`,
    headers: cookies.length > 0 ? { cookie: cookies.join('; ') } : {},
  });
  if (opened.statusCode !== 200) throw new Error(`opening the link: ${opened.statusCode}`);
  const form = signInForm(opened.body);
  return w.http.inject({
    method: 'POST',
    url: '/signin',
    headers: { cookie: [...cookies, ...cookiesSet(opened)].join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ link: form.link, _csrf: form.csrf }).toString(),
  });
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

/** Signs in with a fresh link of the token (opened, then confirmed) and opens /card, as a browser would. */
export async function signIn(w: World<CardGateway>, tokenId: string): Promise<Browser> {
  const res = await confirmLink(w, await signInLink(w, tokenId));
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
