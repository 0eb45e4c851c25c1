// One archive file: NDJSON, gzip, written under a part name of its own run and
// linked into place only once flushed to disk, so a file under its final name
// is always whole (docs/contracts/metering.md, "Archive"); a file already there
// under that name (another installation's, in a shared ARCHIVE_DIR) is never
// replaced, nor removed as one of ours.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type pg from 'pg';

/** A file this run did not write holds the name: refused, whatever it holds. */
export class ArchiveFileTaken extends Error {
  constructor(readonly path: string) {
    super(
      `${path} already exists and was not written by this run: another installation's archive in the same ARCHIVE_DIR? Nothing was replaced; give this one its own ARCHIVE_DIR`,
    );
  }
}

/** ARCHIVE_DIR cannot hold hard links: a file is linked into place, never renamed over another. */
export class ArchiveDirWithoutLinks extends Error {
  constructor(dir: string, code: string) {
    super(
      `archive: ARCHIVE_DIR ${dir} cannot hold hard links (${code}): a file is linked into place, never renamed over another; use a directory on a file system with hard links`,
    );
  }
}

/** Where one file goes: `dir/name`, written first as `dir/part`, a name of this run's own. */
export interface ArchiveTarget {
  dir: string;
  name: string;
  part: string;
}

/** A part name no other run, of this installation or another, writes. */
export const partName = (name: string): string => `${name}.${randomUUID()}.part`;

/** What a file system without hard links (some FUSE mounts) answers a link. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Writes `lines` (each one JSON text, no newline) gzipped to the part, then
 * links it to its final name (a link fails where a rename would replace) and
 * syncs the directory; returns how many. The part stays until its row is done
 * (releasePart): until then it tells this run's file from another's.
 */
export async function writeArchiveFile(t: ArchiveTarget, lines: AsyncIterable<string>): Promise<number> {
  await mkdir(t.dir, { recursive: true });
  const part = join(t.dir, t.part);
  let count = 0;
  async function* text() {
    for await (const line of lines) {
      count++;
      yield `${line}\n`;
    }
  }
  await pipeline(Readable.from(text()), createGzip(), createWriteStream(part, { flags: 'wx' }));
  await fsync(part);
  const final = join(t.dir, t.name);
  try {
    await link(part, final);
  } catch (err) {
    await rm(part, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw new ArchiveFileTaken(final);
    if (NO_LINKS.has(code)) throw new ArchiveDirWithoutLinks(t.dir, code);
    throw err;
  }
  await fsync(t.dir);
  return count;
}

/** Once the file's row is done: its part goes (a kill before leaves it for the next run's release). */
export async function releasePart(t: ArchiveTarget): Promise<void> {
  await rm(join(t.dir, t.part), { force: true });
}

/**
 * Removes what a run that died (or dropped its file) left: its part, and the
 * final file only when it is the part's own (one inode). Without a part (never
 * written) the final name is someone else's, left alone. A row from before parts
 * (`part` null) removes as that version did, `name.part` and the name: its run
 * renamed its part into place, so nothing tells its file from another's.
 */
export async function removeUnfinished(t: Omit<ArchiveTarget, 'part'> & { part: string | null }): Promise<void> {
  const final = join(t.dir, t.name);
  if (t.part === null) {
    await rm(`${final}.part`, { force: true });
    await rm(final, { force: true });
    return;
  }
  const part = join(t.dir, t.part);
  const [ours, there] = await Promise.all([statOf(part), statOf(final)]);
  if (ours && there && ours.ino === there.ino && ours.dev === there.dev) await rm(final, { force: true });
  await rm(part, { force: true });
}

async function statOf(path: string): Promise<{ ino: number; dev: number } | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * A name another installation's file holds, or a directory without hard links:
 * the `writing` row goes (nothing of ours is there), so no later run takes that
 * file for one of ours left unfinished. The run fails, naming why.
 */
export async function forgetTaken(pool: pg.Pool, name: string, err: unknown): Promise<never> {
  if (err instanceof ArchiveFileTaken || err instanceof ArchiveDirWithoutLinks) {
    await pool.query(`delete from metering.archive_files where name = $1 and state = 'writing'`, [name]);
  }
  throw err;
}

/** SQL: a timestamptz column as an ISO-8601 UTC instant with microseconds, as the files hold instants. */
export function iso(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
