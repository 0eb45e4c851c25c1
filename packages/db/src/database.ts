import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedPostgres, type EmbeddedServer } from './embedded.ts';

export interface DatabaseOptions {
  /** DATABASE_URL; unset means the embedded server. */
  url?: string | undefined;
  /** VAULT_HOME: the embedded server lives in `<home>/postgres`. */
  home: string;
  embeddedPort: number;
  poolSize?: number;
  log?: (event: string, fields?: Record<string, string | number>) => void;
}

export interface Database {
  pool: pg.Pool;
  url: string;
  embedded: boolean;
  /** Ends the pool, and stops the embedded server if this process started it. */
  close(): Promise<void>;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let server: EmbeddedServer | undefined;
  let url = opts.url;
  if (!url) {
    server = await ensureEmbeddedPostgres({
      dir: join(opts.home, 'postgres'),
      port: opts.embeddedPort,
      ...(opts.log ? { log: opts.log } : {}),
    });
    url = server.url;
  }
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  // An idle client's error (server restart) must not crash the process.
  pool.on('error', (err) => opts.log?.('postgres.pool_error', { error: err.message }));
  return {
    pool,
    url,
    embedded: !opts.url,
    close: async () => {
      await pool.end();
      if (server?.startedHere) await server.stop();
    },
  };
}
