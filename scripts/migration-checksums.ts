// `npm run migrations:checksums`: lists each new migration's checksum in its folder's
// checksums.json (docs/contracts/runtime.md, "Migrations edited after a release"). A listed migration whose
// file changed is refused: a database that applied it keeps what it did, so the change
// belongs in a new migration. `--rewrite <path>` lists a changed one again, for a
// migration no commit has held yet (its checksum was listed while it was being written).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CHECKSUMS_FILE, checksumOf, type MigrationChecksums, migrationFiles, parseMigrationChecksums } from '@vault/db';
import { MIGRATION_TARGETS, ROOT } from './cli/apps.ts';

const args = process.argv.slice(2);
const rewrite = new Set<string>();
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rewrite' && args[i + 1]) rewrite.add(resolve(args[++i]!));
  else {
    console.error(`usage: npm run migrations:checksums [-- --rewrite <migration file>…]; got ${JSON.stringify(args[i])}`);
    process.exit(2);
  }
}

let refused = 0;
const writes: [string, MigrationChecksums][] = [];
for (const { migrations: dir } of MIGRATION_TARGETS) {
  const listPath = join(dir, CHECKSUMS_FILE);
  let listed: MigrationChecksums = {};
  try {
    listed = parseMigrationChecksums(readFileSync(listPath, 'utf8'), listPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const files = migrationFiles(readdirSync(dir));
  const next: MigrationChecksums = {};
  for (const file of files) {
    const path = join(dir, file);
    const sha256 = checksumOf(readFileSync(path, 'utf8'));
    const entry = listed[file];
    if (entry && entry.sha256 !== sha256 && !rewrite.has(path)) {
      console.error(
        `${relative(ROOT, path)} changed after its checksum was listed: add a new migration instead (a database that applied it keeps what it did); only one no commit holds yet may be listed again, with --rewrite ${relative(ROOT, path)}`,
      );
      refused++;
    }
    next[file] = { ...entry, sha256: rewrite.has(path) || !entry ? sha256 : entry.sha256 };
    rewrite.delete(path);
  }
  for (const file of Object.keys(listed)) {
    if (!(file in next)) {
      console.error(
        `${relative(ROOT, join(dir, file))} is listed but gone: a database that applied it keeps it; undo it in a new migration`,
      );
      refused++;
    }
  }
  writes.push([listPath, next]);
}
for (const path of rewrite) {
  console.error(`--rewrite ${relative(ROOT, path)}: no such migration`);
  refused++;
}
// All or nothing: a refusal leaves every list as it was.
if (refused === 0) for (const [path, next] of writes) writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`);
process.exit(refused === 0 ? 0 : 1);
