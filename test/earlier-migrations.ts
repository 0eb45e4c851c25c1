// A database as an earlier commit's migrations left it, rebuilt without git: the
// migrations that commit held, each file as it was (today's text, or an earlier
// version kept in test/fixtures/earlier-migrations/<schema>/<name>.<commit>.sql),
// applied by migrate, which records each one's checksum as every release did.
// fixtures/earlier-migrations/states.json lists, for every commit whose migrations
// held a version that is no longer today's, each schema's files in that commit.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { migrate } from '@vault/db';
import { ROOT } from '../scripts/cli/apps.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'earlier-migrations');

/** The schemas whose migrations were edited, in the order they migrate (invoicing reads metering's views). */
export const EDITED_SCHEMAS = ['metering', 'invoicing'] as const;
export type EditedSchema = (typeof EDITED_SCHEMAS)[number];

export const MIGRATIONS: Record<EditedSchema, string> = {
  metering: join(ROOT, 'services', 'metering', 'migrations'),
  invoicing: join(ROOT, 'services', 'invoicing', 'migrations'),
};

/** A commit's migrations: per schema, its files, `name@commit` for an earlier version. */
export type EarlierState = { commit: string } & Partial<Record<EditedSchema, string[]>>;

export const EARLIER_STATES: EarlierState[] = JSON.parse(readFileSync(join(FIXTURES, 'states.json'), 'utf8'));

export function earlierState(commit: string): EarlierState {
  const state = EARLIER_STATES.find((s) => s.commit === commit);
  if (!state) throw new Error(`no state of commit ${commit} in test/fixtures/earlier-migrations/states.json`);
  return state;
}

/** A folder holding `schema`'s migrations as `state`'s commit held them. */
function folderOf(state: EarlierState, schema: EditedSchema): string {
  const dir = mkdtempSync(join(tmpdir(), `earlier-${schema}-${state.commit}-`));
  for (const entry of state[schema] ?? []) {
    const [file, commit] = entry.split('@') as [string, string | undefined];
    const from = commit ? join(FIXTURES, schema, `${file.replace(/\.sql$/, '')}.${commit}.sql`) : join(MIGRATIONS[schema], file);
    writeFileSync(join(dir, file), readFileSync(from, 'utf8'));
  }
  return dir;
}

/** Migrates every schema of `state` as its commit would have (only `schemas`, when given). */
export async function migrateAsOf(pool: pg.Pool, state: EarlierState, schemas: readonly EditedSchema[] = EDITED_SCHEMAS): Promise<void> {
  for (const schema of schemas) if (state[schema]) await migrate(pool, schema, folderOf(state, schema));
}

/** Today's migrations of the edited schemas. */
export async function migrateNow(pool: pg.Pool, schemas: readonly EditedSchema[] = EDITED_SCHEMAS): Promise<void> {
  for (const schema of schemas) await migrate(pool, schema, MIGRATIONS[schema]);
}
