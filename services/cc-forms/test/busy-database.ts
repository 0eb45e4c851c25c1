// The set-up of cc-forms' busy-database tests: the app's routes over a pool of the
// test's own (a request pool with a statement limit, or one PostgreSQL refuses), with
// world.ts's settings, and a session of the test's own holding cc_forms.sessions' lock.
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { ccFormsRoutes } from '../src/app.ts';
import type { CcFormsDeps } from '../src/deps.ts';
import { GATEWAY_LOOKUPS_PER_MINUTE } from '../src/domain/rate-limit.ts';
import { GATEWAY_JS, GATEWAY_ORIGIN, INVOICING_WEB_URL, PUBLISHABLE_KEY } from './world.ts';

/** cc-forms' routes on `app` over the given pool, gateway and log; the rest as world.ts sets them. */
export function routesOver(app: FastifyInstance, deps: Pick<CcFormsDeps, 'pool' | 'gateway' | 'log'>): void {
  ccFormsRoutes(app, {
    ...deps,
    attemptsPerHour: 10,
    lookupsPerMinute: GATEWAY_LOOKUPS_PER_MINUTE,
    publishableKey: PUBLISHABLE_KEY,
    gatewayJs: GATEWAY_JS,
    gatewayOrigins: [GATEWAY_ORIGIN],
    invoicingWebUrl: INVOICING_WEB_URL,
  });
}

/**
 * A session of the test's own holding the sessions table's lock in an open transaction until it
 * commits: `exclusive` lets lookups read on (no session is written), `access exclusive` stops them too.
 */
export async function holdSessions(databaseUrl: string, mode: 'exclusive' | 'access exclusive'): Promise<pg.Client> {
  const holder = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  await holder.query('begin');
  await holder.query(`lock table cc_forms.sessions in ${mode} mode`);
  return holder;
}
