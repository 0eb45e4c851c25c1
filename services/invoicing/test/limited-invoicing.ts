// Invoicing in this process on a real port, its requests' statements stopped at a limit, and a session
// of the test's own holding a table's lock: what the streamed answers' failure tests start from.
import http from 'node:http';
import pg from 'pg';
import { createHttpApp, memoryLogger } from '@vault/runtime';
import { invoicingRoutes } from '../src/app.ts';
import type { InvoicingDeps } from '../src/deps.ts';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Whether the body arrived whole (its chunked encoding's last chunk read). */
  complete: boolean;
}

/** GET over a real connection: a body cut short resolves with `complete: false`, never rejects. */
export function get(base: string, path: string, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      const done = () => resolve({ status: res.statusCode!, headers: res.headers, body, complete: res.complete });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', reject);
  });
}

/** Invoicing's routes on `deps` (its log made here), its requests' statements stopped at `limitMs`, listening. */
export async function serveLimitedInvoicing(
  limitMs: number,
  deps: Omit<InvoicingDeps, 'log'>,
): Promise<{ server: ReturnType<typeof createHttpApp>; log: ReturnType<typeof memoryLogger>; base: string }> {
  const log = memoryLogger({ app: 'invoicing' });
  const server = createHttpApp(log, { statementTimeoutMs: limitMs });
  invoicingRoutes(server, { ...deps, log });
  const base = await server.listen({ port: 0, host: '127.0.0.1' });
  return { server, log, base };
}

/** `run` while another session of `url` holds `table` in access exclusive mode; the lock is let go of after. */
export async function whileLocked<T>(url: string, table: string, run: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query(`lock table ${table} in access exclusive mode`);
    return await run();
  } finally {
    await holder.end();
  }
}
