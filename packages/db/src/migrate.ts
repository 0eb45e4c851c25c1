import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { checksumOf, isEarlierVersion, migrationFiles, readMigrationChecksums } from './migration-checksums.ts';

export interface MigrationResult {
  schema: string;
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies `dir`'s `NNN_name.sql` files, in order, each in its own transaction,
 * into `schema`. An advisory lock serialises concurrent starts of one app; a
 * checksum refuses an applied migration whose file was edited afterwards,
 * unless `dir`'s checksums.json lists what was applied as an earlier version.
 */
export interface MigrateOptions {
  /** How long to wait for another process's migrations of the schema (default 120 s): then fail, never hang. */
  lockWaitMs?: number;
  /**
   * `lock_timeout` of each migration (default 60 s): a DDL statement queued behind a long
   * transaction (an older instance's, in a rolling deploy) would block every query on its
   * table while it waits; it fails instead, and the boot with it, to be tried again.
   */
  lockTimeout?: string;
}

export async function migrate(pool: pg.Pool, schema: string, dir: string, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const files = migrationFiles(await readdir(dir));
  const checksums = await readMigrationChecksums(dir);
  const client = await pool.connect();
  // A session ended by the server meanwhile fails the next query; unheard, its 'error' event would end the process.
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  const applied: string[] = [];
  let alreadyApplied = 0;
  const ident = client.escapeIdentifier(schema);
  try {
    await lockWithin(client, `migrate:${schema}`, opts.lockWaitMs ?? 120_000, schema);
    await client.query(`create schema if not exists ${ident}`);
    await client.query(
      `create table if not exists ${ident}.schema_migrations (
         name text primary key, checksum text not null, applied_at timestamptz not null default now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(`select name, checksum from ${ident}.schema_migrations`);
    const done = new Map(rows.map((r) => [r.name, r.checksum]));
    for (const file of files) {
      const sql = await readFile(join(dir, file), 'utf8');
      const checksum = checksumOf(sql);
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum && !isEarlierVersion(checksums, file, previous)) {
          throw new Error(
            `migration ${schema}/${file} was edited after it was applied (its checksum is in no version of ${dir}/checksums.json)`,
          );
        }
        alreadyApplied++;
        continue;
      }
      await client.query('begin');
      try {
        await client.query(`set local search_path to ${ident}, public`);
        await client.query(`select set_config('lock_timeout', $1, true)`, [opts.lockTimeout ?? '60s']);
        await client.query(sql);
        await client.query(`insert into ${ident}.schema_migrations (name, checksum) values ($1, $2)`, [file, checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${schema}/${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
  } finally {
    if (!lost) await client.query('select pg_advisory_unlock(hashtext($1))', [`migrate:${schema}`]).catch(() => {});
    client.off('error', onError);
    client.release(lost);
  }
  return { schema, applied, alreadyApplied };
}

/** The schema's migration lock, waiting at most `ms` for another process to finish with it. */
async function lockWithin(client: pg.PoolClient, name: string, ms: number, schema: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { rows } = await client.query<{ got: boolean }>('select pg_try_advisory_lock(hashtext($1)) as got', [name]);
    if (rows[0]!.got) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `migrations of ${schema}: another process has held their lock for ${Math.round(ms / 1000)} s (its migrations still running, or stuck); nothing was applied`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
