// A `vault` command can end before it is done: its stdout's reader gone (exitWhenStdoutFails,
// stdout.ts). The embedded PostgreSQL it started is a process of its own, which an exit at once
// left running, its parent gone (`vault token list | head -0`, every time): the databases a
// command opened, or is opening, are let go of first, the server stopped as at the command's end.
import type { Database } from '@vault/db';

/** The databases open or opening now (undefined: the open failed, nothing to let go of). */
const held = new Set<Promise<Database | undefined>>();
/** Set once the command is ending early. */
let leaving: Promise<never> | undefined;

/** How long letting go may take (an embedded server still starting included) before the process ends anyway. */
const LET_GO_WITHIN_MS = 30_000;

/**
 * The database `open` gives, let go of if the command ends early, even while it opens (its
 * first log line may be the write that fails); its close() lets go of it as before.
 */
export async function holdDatabase(open: Promise<Database>): Promise<Database> {
  const entry = open.catch(() => undefined);
  held.add(entry);
  let db: Database;
  try {
    db = await open;
  } catch (err) {
    held.delete(entry);
    throw err;
  }
  return {
    ...db,
    close: async () => {
      try {
        await db.close();
      } finally {
        held.delete(entry);
      }
    },
  };
}

/** Ends the command now with `code`, once every database it holds is let go of (bounded). */
export function endEarly(code: number): Promise<never> {
  leaving ??= (async () => {
    const letGo = Promise.all([...held].map(async (entry) => (await entry)?.abort().catch(() => {})));
    await Promise.race([letGo, new Promise((resolve) => setTimeout(resolve, LET_GO_WITHIN_MS))]);
    process.exit(code);
  })();
  return leaving;
}

/** The early end under way, if any: the command's own end (a failed query, its status) waits for it. */
export function endingEarly(): Promise<never> | undefined {
  return leaving;
}
