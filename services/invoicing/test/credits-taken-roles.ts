// Login roles of a test database for invoicing.note_credits_taken's callers: a SELECT-only
// export role, a role with the schema only (credits-taken-guard, credits-taken-clock tests).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestDatabase } from '@vault/testkit';

/** A login role on `db` with `grants` run for it; its pool, and a drop for after. */
export async function roleOn(db: TestDatabase, grants: (role: string) => string[]) {
  const role = `guard_${randomBytes(4).toString('hex')}`;
  const { rows } = await db.pool.query<{ db: string }>('select current_database() as db');
  await db.pool.query(`create role ${role} login password 'guard-secret'`);
  await db.pool.query(`grant connect on database ${rows[0]!.db} to ${role}`);
  for (const sql of grants(role)) await db.pool.query(sql);
  const url = new URL(db.url);
  url.username = role;
  url.password = 'guard-secret';
  return { role, pool: new pg.Pool({ connectionString: url.toString(), max: 2 }) };
}

/** Drops the roles (a role is the server's, not the database's: after the database, with its grants, is gone). */
export async function dropRoles(roles: string[]) {
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  try {
    for (const role of roles) await admin.query(`drop role if exists ${role}`);
  } finally {
    await admin.end();
  }
}
