// The web UI's test world: a real database with two accounts' usage, October
// finalized through the real billing, the invoicing app listening on a free port.
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { DateTime } from 'luxon';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import type { TestDatabase } from '@vault/testkit';
import { invoicingRoutes } from '../src/app.ts';
import { createSignInLink } from '../src/access/sign-in-links.ts';
import { createToken, issueToken } from '../src/access/tokens.ts';
import { createBilling } from '../src/billing/service.ts';
import type { Billing, FinalizeReport } from '../src/billing/types.ts';
import { loadPriceBook } from '../src/billing/price-book-file.ts';
import { billingDatabase, seedOwners, seedUsage } from './seed.ts';

/** "Now" for billing: November is running, October is past its 72 h grace. */
export const NOW = DateTime.fromISO('2026-11-20T12:00:00Z', { zone: 'utc' });
export const ACCOUNT_A = 'acct-web-a';
export const ACCOUNT_B = 'acct-web-b';

export interface WebWorld {
  db: TestDatabase;
  billing: Billing;
  http: FastifyInstance;
  log: ReturnType<typeof memoryLogger>;
  base: string;
  adminToken: string;
  tokenA: string;
  tokenB: string;
  /** The public ids of tokenA and tokenB (invoicing.tokens.id). */
  tokenIdA: string;
  tokenIdB: string;
  financeToken: string;
  /** A fresh sign-in link's secret for the account, issued with its token (A's or B's). */
  link(accountId: string): Promise<string>;
  october: FinalizeReport;
  close(): Promise<void>;
}

export interface WebWorldOptions {
  /** Credit granted before October is finalized (its invoice then uses it). */
  grants?: readonly { accountId: string; amount: string }[];
  /** Where the pages link to the card form (CC_FORMS_URL). */
  ccFormsUrl?: string;
}

export async function webWorld(options: WebWorldOptions = {}): Promise<WebWorld> {
  const db = await billingDatabase();
  await seedOwners(db.pool, [
    { app: 'shop-web', account: ACCOUNT_A, from: '2026-09-01T00:00:00Z' },
    { app: 'shop-db', account: ACCOUNT_A, from: '2026-09-01T00:00:00Z' },
    { app: 'blog', account: ACCOUNT_B, from: '2026-09-01T00:00:00Z' },
  ]);
  const learnedAt = '2026-10-01T00:00:00Z';
  await seedUsage(db.pool, [
    // All October ($25.00), and still running in November.
    { app: 'shop-web', kind: 'dyno', key: 'web.1', product: 'dyno:standard-1x', from: '2026-10-01T00:00:00Z', learnedAt },
    // 15 of October's 31 days: 0.4838710 months of $50.00 = $24.19.
    {
      app: 'shop-web',
      kind: 'dyno',
      key: 'worker.1',
      product: 'dyno:standard-2x',
      from: '2026-10-01T00:00:00Z',
      to: '2026-10-16T00:00:00Z',
      learnedAt,
    },
    // From October 11th (21 days: 0.6774194 months of $5.00 = $3.39), still provisioned.
    {
      app: 'shop-db',
      kind: 'addon',
      key: 'addon-pg1',
      product: 'addon:heroku-postgresql:essential-0',
      from: '2026-10-11T00:00:00Z',
      learnedAt,
    },
    { app: 'blog', kind: 'dyno', key: 'web.1', product: 'dyno:basic', from: '2026-10-05T00:00:00Z', to: '2026-10-20T00:00:00Z', learnedAt },
  ]);
  const billing = createBilling({ pool: db.pool, prices: loadPriceBook(), graceHours: 72, now: () => NOW });
  for (const [i, g] of (options.grants ?? []).entries()) {
    await billing.grantCredit(g.accountId, { id: `web-grant-${i}`, amount: g.amount, reason: 'a goodwill credit' });
  }
  const october = await billing.finalize('2026-10');

  const log = memoryLogger({ app: 'invoicing' });
  const adminToken = 'test-admin-token-web-0123456789abcdef';
  const http = createHttpApp(log);
  invoicingRoutes(http, { pool: db.pool, billing, prices: loadPriceBook(), adminToken, log, ccFormsUrl: options.ccFormsUrl });
  await http.listen({ port: 0, host: '127.0.0.1' });
  const { port } = http.server.address() as { port: number };

  const a = await issueToken(db.pool, { kind: 'account', accountId: ACCOUNT_A });
  const b = await issueToken(db.pool, { kind: 'account', accountId: ACCOUNT_B });
  const tokenIds: Record<string, string> = { [ACCOUNT_A]: a.id, [ACCOUNT_B]: b.id };
  return {
    db,
    billing,
    http,
    log,
    base: `http://127.0.0.1:${port}`,
    adminToken,
    tokenA: a.token,
    tokenB: b.token,
    tokenIdA: a.id,
    tokenIdB: b.id,
    financeToken: await createToken(db.pool, { kind: 'finance' }),
    link: (accountId) => createSignInLink(db.pool, { accountId, tokenId: tokenIds[accountId]! }),
    october,
    close: async () => {
      await http.close();
      await db.drop();
    },
  };
}

/** The session cookie's value from a Set-Cookie header, if it sets one. */
export function sessionFrom(setCookie: string | string[] | undefined): string | undefined {
  const header = Array.isArray(setCookie) ? setCookie.join('\n') : (setCookie ?? '');
  return /(?:^|\n)vault_session=([^;]*)/.exec(header)?.[1] || undefined;
}

/** The sign-in confirmation form's fields (the link and the CSRF token), from its page. */
export function signInForm(body: string): { link: string; csrf: string } {
  const form = /<form method="post" action="\/signin">([\s\S]*?)<\/form>/.exec(body)?.[1] ?? '';
  const link = /<input type="hidden" name="link" value="([^"]+)">/.exec(form)?.[1];
  const csrf = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(form)?.[1];
  if (!link || !csrf) throw new Error('the page has no sign-in form');
  return { link, csrf };
}

/** `name=value` of every cookie a response sets (what a browser would send back). */
export function cookiesSet(res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header : header ? [header] : []).map((c) => c.split(';')[0]!);
}

/** What a browser sends for a page. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** How the tests talk to the app: as a browser would (inject), or to the JSON API with a token. */
export interface WebClient {
  /** The JSON API, as the token sees it (200 asserted). */
  api<T>(path: string, token: string): Promise<T>;
  get(url: string, session?: string): Promise<LightMyRequestResponse>;
  /** Opens a sign-in link as a browser with these cookies would: the confirmation page (or a refusal). */
  openLink(link: string, cookies?: readonly string[]): Promise<LightMyRequestResponse>;
  /** Posts the sign-in form with these fields and cookies. */
  postSignIn(fields: Record<string, string>, cookies?: readonly string[]): Promise<LightMyRequestResponse>;
  /** Opens the link and presses its button, as a browser with these cookies would; the POST's answer. */
  confirm(link: string, cookies?: readonly string[]): Promise<LightMyRequestResponse>;
  /** A fresh link for the account, confirmed: the new session's id. */
  signIn(accountId?: string): Promise<string>;
}

/** A client of the world `current()` returns (the world is made in a `before` hook). */
export function webClient(current: () => WebWorld): WebClient {
  const client: WebClient = {
    async api<T>(path: string, token: string) {
      const res = await fetch(current().base + path, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, `GET ${path}`);
      return (await res.json()) as T;
    },
    // With a browser's Accept: an address that is no route answers it a page.
    get: (url, session) =>
      current().http.inject({
        method: 'GET',
        url,
        headers: { accept: BROWSER_ACCEPT, ...(session ? { cookie: `vault_session=${session}` } : {}) },
      }),
    openLink: (link, cookies = []) =>
      current().http.inject({
        method: 'GET',
        url: `/signin?link=${encodeURIComponent(link)}`,
        headers: cookies.length > 0 ? { cookie: cookies.join('; ') } : {},
      }),
    postSignIn: (fields, cookies = []) =>
      current().http.inject({
        method: 'POST',
        url: '/signin',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookies.length > 0 ? { cookie: cookies.join('; ') } : {}) },
        payload: new URLSearchParams(fields).toString(),
      }),
    async confirm(link, cookies = []) {
      const opened = await client.openLink(link, cookies);
      assert.equal(opened.statusCode, 200, opened.body);
      const form = signInForm(opened.body);
      return client.postSignIn({ link: form.link, _csrf: form.csrf }, [...cookies, ...cookiesSet(opened)]);
    },
    async signIn(accountId = ACCOUNT_A) {
      const res = await client.confirm(await current().link(accountId));
      assert.equal(res.statusCode, 303);
      const id = sessionFrom(res.headers['set-cookie']);
      assert.ok(id, 'a session cookie is set');
      return id;
    },
  };
  return client;
}
