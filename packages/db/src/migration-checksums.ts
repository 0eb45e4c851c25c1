import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The file beside an app's migrations that lists their checksums (docs/contracts/runtime.md, "Migrations edited after a release"). */
export const CHECKSUMS_FILE = 'checksums.json';

const FILE = /^(\d{3,})_[a-z0-9_]+\.sql$/;

/**
 * The migrations among a folder's names, in the order they apply: by number,
 * not text (1000_x after 101_y), then by name (a follow-up `019_x_from_earlier`
 * runs right after `019_x`, before 020, on a database that has neither).
 */
export function migrationFiles(names: string[]): string[] {
  const number = (f: string) => Number(FILE.exec(f)![1]);
  return names.filter((f) => FILE.test(f)).sort((a, b) => number(a) - number(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** A migration's checksum, as recorded in `schema_migrations` when it is applied: never change how. */
export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * One migration's entry: `sha256` of the file as it is now, and `earlier`, the
 * checksums of versions an earlier commit held (by that commit): a database
 * that applied one of them is not refused for it.
 */
export interface MigrationChecksum {
  sha256: string;
  earlier?: Record<string, string>;
}

export type MigrationChecksums = Record<string, MigrationChecksum>;

/** `dir`'s checksums.json; a folder without one (a test's) lists nothing. */
export async function readMigrationChecksums(dir: string): Promise<MigrationChecksums> {
  const path = join(dir, CHECKSUMS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return parseMigrationChecksums(text, path);
}

export function parseMigrationChecksums(text: string, path: string): MigrationChecksums {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path}: not an object of migrations`);
  for (const [file, entry] of Object.entries(parsed)) {
    const e = entry as Partial<MigrationChecksum> | null;
    if (typeof e !== 'object' || e === null || typeof e.sha256 !== 'string') throw new Error(`${path}: ${file}.sha256 is not a string`);
    const earlier = e.earlier as unknown;
    if (
      earlier !== undefined &&
      (typeof earlier !== 'object' || earlier === null || Object.values(earlier).some((v) => typeof v !== 'string'))
    ) {
      throw new Error(`${path}: ${file}.earlier is not an object of checksums`);
    }
  }
  return parsed as MigrationChecksums;
}

/** Whether `checksum`, recorded when `file` was applied, is one of its committed earlier versions. */
export function isEarlierVersion(checksums: MigrationChecksums, file: string, checksum: string): boolean {
  return Object.values(checksums[file]?.earlier ?? {}).includes(checksum);
}
