// note_credits_taken (migrations 038, 040) wrote the taken_at its caller passed, so a
// SELECT-only export role, whose one write it is, could date the note 1999 or 2999: what
// every refused grant, reversal and finalize run of the month is told. Migration 043 dates it
// by the database's clock and ignores the argument (recorded, not refused: an exporter's
// clock a little off still notes, as 040 lets it); the signature, the grants 040 left and
// the export through such a role are unchanged. Real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { TestDatabase } from '@vault/testkit';
import { exportCsv } from '../src/exports/index.ts';
import { dropRoles, roleOn } from './credits-taken-roles.ts';
import { collect } from './exports-fixture.ts';
import { billingDatabase } from './seed.ts';

const SIGNATURE = 'invoicing.note_credits_taken(text, timestamptz)';

describe('invoicing.note_credits_taken dates the note by the database’s clock, not its caller’s (real PostgreSQL)', () => {
  let db: TestDatabase;
  let finance: Awaited<ReturnType<typeof roleOn>>;
  let usageOnly: Awaited<ReturnType<typeof roleOn>>;
  /** The database's clock, read apart from the call. */
  const dbNow = async () => (await db.pool.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]!.now;
  const noted = async (period: string) =>
    (
      await db.pool.query<{ taken_at: Date; recorded_at: Date }>(
        'select taken_at, recorded_at from invoicing.credits_taken where period = $1',
        [period],
      )
    ).rows;
  /** The month `back` months before the database's. */
  const monthsBack = (now: Date, back: number) => DateTime.fromJSDate(now, { zone: 'utc' }).minus({ months: back }).toFormat('yyyy-MM');

  before(async () => {
    db = await billingDatabase();
    // The SELECT-only export role as documented (Export preconditions).
    finance = await roleOn(db, (role) => [
      `grant usage on schema invoicing, metering to ${role}`,
      `grant select on all tables in schema invoicing, metering to ${role}`,
      `grant execute on function ${SIGNATURE} to ${role}`,
    ]);
    usageOnly = await roleOn(db, (role) => [`grant usage on schema invoicing to ${role}`]);
  });
  after(async () => {
    await finance?.pool.end();
    await usageOnly?.pool.end();
    await db?.drop();
    await dropRoles([finance?.role, usageOnly?.role].filter((r): r is string => r !== undefined));
  });

  test('a bogus taken_at (1999, or a year to come) is not written: the note is the database’s clock; a second call changes nothing', async () => {
    const from = await dbNow();
    const [old, older] = [monthsBack(from, 2), monthsBack(from, 3)];
    await finance.pool.query('select invoicing.note_credits_taken($1, $2)', [old, new Date('1999-01-01T00:00:00Z')]);
    await finance.pool.query('select invoicing.note_credits_taken($1, $2)', [older, new Date('2999-12-31T00:00:00Z')]);
    const to = await dbNow();
    for (const period of [old, older]) {
      const [row] = await noted(period);
      assert.ok(row, `${period} is noted`);
      assert.ok(row.taken_at >= from && row.taken_at <= to, `${period}: ${row.taken_at.toISOString()} is the database's clock`);
      assert.ok(row.taken_at >= row.recorded_at, 'not before its own transaction began');
    }
    const first = await noted(old);
    await finance.pool.query('select invoicing.note_credits_taken($1, $2)', [old, new Date('2026-01-01T00:00:00Z')]);
    assert.deepEqual(await noted(old), first);
  });

  test('the export of a SELECT-only role whose clock is injected still notes its month, dated by the database', async () => {
    const from = await dbNow();
    const month = monthsBack(from, 4);
    const exporter = DateTime.fromFormat(month, 'yyyy-MM', { zone: 'utc' }).plus({ months: 1, minutes: 6 }).toJSDate();
    const file = await collect(exportCsv(finance.pool, 'credits', month, { now: () => exporter }));
    assert.match(file, /\r\nTOTAL,0,/);
    const [row] = await noted(month);
    assert.ok(row && row.taken_at >= from && row.taken_at <= (await dbNow()), `${month} noted at the database's clock`);
  });

  test('the grants stay as 040 left them: the export role may call it, PUBLIC and a role with the schema only may not; still SECURITY DEFINER', async () => {
    const { rows } = await db.pool.query<{ finance: boolean; schema_only: boolean; definer: boolean; public_acl: boolean }>(
      `select has_function_privilege($1, $3::regprocedure, 'execute') as finance,
              has_function_privilege($2, $3::regprocedure, 'execute') as schema_only,
              p.prosecdef as definer,
              exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0) as public_acl
         from pg_proc p where p.oid = $3::regprocedure`,
      [finance.role, usageOnly.role, SIGNATURE],
    );
    assert.deepEqual(rows, [{ finance: true, schema_only: false, definer: true, public_acl: false }]);
    await assert.rejects(
      usageOnly.pool.query('select invoicing.note_credits_taken($1, now())', [monthsBack(await dbNow(), 5)]),
      /permission denied for function note_credits_taken/,
    );
  });
});
