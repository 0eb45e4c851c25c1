// One archive file: NDJSON, gzip, written beside its final name and renamed
// into place only once flushed to disk, so a file under its final name is
// always whole (docs/contracts/metering.md, "Archive").
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

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
  await rename(part, join(dir, name));
  await fsync(dir);
  return count;
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

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
