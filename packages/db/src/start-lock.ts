import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, rm, unlink } from 'node:fs/promises';

export interface LockOptions {
  /** How long to wait for a live holder before failing. */
  timeoutMs?: number;
  /** A holder refreshes the file's mtime; one left unrefreshed this long is stale (its pid was reused). */
  staleMs?: number;
  /** Told when a stale lock is taken over: its holder's pid (0: none in the file) and why it was stale. */
  onTakeOver?: (stale: { pid: number; why: StaleWhy }) => void;
}

/** Why a lock was stale: its holder is dead, an earlier process with our pid, or it went unrefreshed. */
export type StaleWhy = 'holder_dead' | 'own_pid_earlier_life' | 'not_refreshed';

/** Tokens of the locks this process holds: a file with our pid and another token is from an earlier life of our pid. */
const held = new Set<string>();

/**
 * An exclusive lock file across processes. The file is written whole under a
 * name of its own and linked into place (a link never replaces a file), so no
 * one ever reads it empty or half-written. A lock whose holder is dead, is an
 * earlier process with our own pid (PID 1 in a container), or has not been
 * refreshed for `staleMs` is taken over. Resolves to the release.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const staleMs = opts.staleMs ?? 15_000;
  const token = `${process.pid} ${randomBytes(8).toString('hex')}`;
  const deadline = Date.now() + timeoutMs;
  // Before the link: from then on, a waiter in this process must see the file as held.
  held.add(token);
  try {
    for (;;) {
      const handle = await tryLink(path, token);
      if (handle) return holding(path, token, handle, staleMs);
      const seen = await look(path);
      if (!seen) continue;
      const why = stale(seen, staleMs);
      if (why) {
        if (await breakStale(path, seen.content, token, staleMs)) opts.onTakeOver?.({ pid: holderPid(seen.content), why });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${path} (held by pid ${holderPid(seen.content) || '?'})`);
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  } catch (err) {
    held.delete(token);
    throw err;
  }
}

function holding(path: string, token: string, handle: FileHandle, staleMs: number): () => Promise<void> {
  // Through the handle: refreshes our own file, never one that took its place.
  const beat = setInterval(
    () => {
      const now = new Date();
      handle.utimes(now, now).catch(() => {});
    },
    Math.max(50, staleMs / 5),
  );
  beat.unref();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    try {
      // A lock taken over as stale belongs to its new holder now. Ours is held (and fresh) until it
      // is gone, or a waiter could judge it stale between our check and our removal.
      if ((await look(path))?.content === token) await rm(path, { force: true });
    } finally {
      clearInterval(beat);
      held.delete(token);
      await handle.close().catch(() => {});
    }
  };
}

/** Creates `path` holding `token`, or undefined when it exists; the handle stays open on the new file. */
async function tryLink(path: string, token: string): Promise<FileHandle | undefined> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const handle = await open(temporary, 'wx');
  try {
    await handle.writeFile(token);
    await link(temporary, path);
    return handle;
  } catch (err) {
    await handle.close();
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

interface Seen {
  content: string;
  mtimeMs: number;
}

async function look(path: string): Promise<Seen | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { mtimeMs } = await handle.stat();
    return { content: await handle.readFile('utf8'), mtimeMs };
  } finally {
    await handle.close();
  }
}

function holderPid(content: string): number {
  // `<pid> <token>`; the previous version wrote the pid alone.
  const pid = Number(content.split(' ')[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

function stale(seen: Seen, staleMs: number): StaleWhy | undefined {
  if (Date.now() - seen.mtimeMs > staleMs) return 'not_refreshed';
  const pid = holderPid(seen.content);
  // No pid: the previous version's file caught between its create and its write; only age tells.
  if (!pid) return undefined;
  if (pid === process.pid) return held.has(seen.content) ? undefined : 'own_pid_earlier_life';
  return alive(pid) ? undefined : 'holder_dead';
}

/**
 * Removes the stale lock we saw, and nothing else: two waiters that both saw it
 * dead must not remove the lock one of them has just taken. A second lock file
 * makes the check and the removal one step. True when it removed it.
 */
async function breakStale(path: string, content: string, token: string, staleMs: number): Promise<boolean> {
  const breaker = `${path}.break`;
  const handle = await tryLink(breaker, token);
  if (!handle) {
    // It is held for a read and an unlink: one this old was left by a process killed in between.
    const seen = await look(breaker);
    if (seen && Date.now() - seen.mtimeMs > staleMs) await rm(breaker, { force: true });
    else await new Promise((r) => setTimeout(r, 10));
    return false;
  }
  try {
    if ((await look(path))?.content !== content) return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await handle.close();
    await rm(breaker, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
