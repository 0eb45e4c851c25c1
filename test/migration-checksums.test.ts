// Every migration folder's checksums.json lists each migration as it is: a migration
// changed after it was listed fails here, before a release could apply either version
// (a database that applied the other one would refuse to boot, or keep its shape). Its
// earlier versions, which migrate accepts, are each backed by their text in
// test/fixtures/earlier-migrations (test/migrations-history.test.ts applies them).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { CHECKSUMS_FILE, checksumOf, migrationFiles, parseMigrationChecksums } from '@vault/db';
import { MIGRATION_TARGETS, ROOT } from '../scripts/cli/apps.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'earlier-migrations');

/** What is wrong with `dir`'s checksums.json: one sentence each, naming the file and what to do. */
function checksumProblems(dir: string): string[] {
  const where = (file: string) => relative(ROOT, join(dir, file)) || join(dir, file);
  const listed = parseMigrationChecksums(readFileSync(join(dir, CHECKSUMS_FILE), 'utf8'), where(CHECKSUMS_FILE));
  const files = migrationFiles(readdirSync(dir));
  const problems: string[] = [];
  for (const file of files) {
    const sha256 = checksumOf(readFileSync(join(dir, file), 'utf8'));
    const entry = listed[file];
    if (!entry) problems.push(`${where(file)} is not listed in ${CHECKSUMS_FILE}: run npm run migrations:checksums`);
    else if (entry.sha256 !== sha256) {
      problems.push(
        `${where(file)} changed after it was listed in ${CHECKSUMS_FILE}: never edit a migration once committed (a database that applied it keeps what it did, and would refuse to boot); put the change in a new migration and restore this file (docs/contracts/runtime.md, "Migrations edited after a release")`,
      );
    }
  }
  for (const file of Object.keys(listed)) {
    if (!files.includes(file)) problems.push(`${where(file)} is listed in ${CHECKSUMS_FILE} but gone: undo it in a new migration instead`);
  }
  return problems;
}

describe('migration checksums (checksums.json beside each folder of migrations)', () => {
  for (const { schema, migrations } of MIGRATION_TARGETS) {
    test(`${schema}: every migration is listed, as it is`, () => {
      assert.deepEqual(checksumProblems(migrations), []);
    });
  }

  test('a listed migration whose text changed (a comment is enough) is named, with what to do instead', () => {
    const dir = mkdtempSync(join(tmpdir(), 'checksums-'));
    const sql = 'create table widgets (id int);\n';
    writeFileSync(join(dir, '001_widgets.sql'), `${sql}-- a comment added later\n`);
    writeFileSync(join(dir, CHECKSUMS_FILE), JSON.stringify({ '001_widgets.sql': { sha256: checksumOf(sql) } }));
    const [problem, ...more] = checksumProblems(dir);
    assert.deepEqual(more, []);
    assert.match(problem!, /001_widgets\.sql changed after it was listed in checksums\.json: never edit a migration once committed/);
    assert.match(problem!, /put the change in a new migration/);
  });

  test("each earlier version migrate accepts is a committed version's text, kept as a fixture, and every fixture is accepted", () => {
    for (const schema of readdirSync(FIXTURES).filter((d) => !d.includes('.'))) {
      const { migrations } = MIGRATION_TARGETS.find((t) => t.schema === schema)!;
      const listed = parseMigrationChecksums(readFileSync(join(migrations, CHECKSUMS_FILE), 'utf8'), CHECKSUMS_FILE);
      const accepted = Object.entries(listed).flatMap(([file, e]) =>
        Object.entries(e.earlier ?? {}).map(([commit, sha]) => `${file.replace(/\.sql$/, '')}.${commit}.sql ${sha}`),
      );
      // A removed migration's versions have fixtures too (a database may hold it), but no entry.
      const kept = readdirSync(FIXTURES + '/' + schema)
        .filter((f) => f.replace(/\.[0-9a-f]+\.sql$/, '.sql') in listed)
        .map((f) => `${f} ${checksumOf(readFileSync(join(FIXTURES, schema, f), 'utf8'))}`);
      assert.deepEqual(kept.sort(), accepted.sort(), schema);
    }
  });
});
