// One archive file: NDJSON, gzip, written beside its final name and linked
// into place only once flushed to disk, so a file under its final name is
// always whole (docs/contracts/metering.md, "Archive"); a file already there
// under that name (another installation's, in a shared ARCHIVE_DIR) is never
// replaced.
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
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

/** Writes `lines` (each one JSON text, no newline) gzipped to `dir/name`; returns how many. */
export async function writeArchiveFile(dir: string, name: string, lines: AsyncIterable<string>): Promise<number> {
  await mkdir(dir, { recursive: true });
  const part = join(dir, `${name}.part`);
  let count = 0;
  async function* text() {
    for await (const line of lines) {
      count++;
      yield `${line}\n`;
    }
  }
  await pipeline(Readable.from(text()), createGzip(), createWriteStream(part));
  await fsync(part);
  const final = join(dir, name);
  try {
    // A link, not a rename: it fails where a rename would replace.
    await link(part, final);
    await unlink(part);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && NO_LINKS.has(code)) await renameUnlessTaken(part, final);
    else {
      await rm(part, { force: true });
      throw code === 'EEXIST' ? new ArchiveFileTaken(final) : err;
    }
  }
  await fsync(dir);
  return count;
}

/**
 * A name another installation's file holds: its `writing` row goes, so no later run
 * removes that file as one of ours left unfinished. The run fails, naming it.
 */
export async function forgetTaken(pool: pg.Pool, name: string, err: unknown): Promise<never> {
  if (err instanceof ArchiveFileTaken) await pool.query(`delete from metering.archive_files where name = $1 and state = 'writing'`, [name]);
  throw err;
}

/** SQL: a timestamptz column as an ISO-8601 UTC instant with microseconds, as the files hold instants. */
export function iso(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Removes what a run that died left of `name` (the file, whole or not). */
export async function removeArchiveFile(dir: string, name: string): Promise<void> {
  await rm(join(dir, `${name}.part`), { force: true });
  await rm(join(dir, name), { force: true });
}

/** What a file system without hard links (some network and FUSE mounts) answers a link. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Where links cannot be made: a look, then a rename (a race with another writer is left to the directory's owner). */
async function renameUnlessTaken(part: string, final: string): Promise<void> {
  const taken = await lstat(final).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  if (taken) {
    await rm(part, { force: true });
    throw new ArchiveFileTaken(final);
  }
  await rename(part, final);
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
