// When the reader of `vault`'s stdout goes away (`vault … | head`, a closed pipe), a write
// fails (EPIPE): one line on stderr and exit 1, never Node's "Unhandled 'error' event" stack.
import { endEarly } from './early-exit.ts';

/** `vault <what>: stdout was closed` (or its error, when it failed otherwise). */
export function stdoutFailure(what: string, err: NodeJS.ErrnoException): string {
  const closed = err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_DESTROYED';
  return `vault ${what}: ${closed ? 'stdout was closed' : `cannot write to stdout: ${err.code ?? err.message}`}`;
}

/**
 * For the whole run of `vault <what>`: a failed write to stdout ends it at once with
 * one line, exit 1, once the databases it opened are let go of (early-exit.ts: the
 * embedded PostgreSQL it started is stopped). A command listening for stdout's errors
 * itself while it writes (export, `simulate --out -`, `token create`, `start`) says
 * what it stopped doing instead. Stderr's own errors are ignored (main.ts).
 */
export function exitWhenStdoutFails(what: string): void {
  let said = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (process.stdout.listenerCount('error') > 1 || said) return;
    said = true;
    process.stderr.write(`${stdoutFailure(what, err)}\n`);
    void endEarly(1);
  };
  process.stdout.on('error', onError);
}

/**
 * Writes `text` to stdout; resolves once it is handed to the reader, or to the
 * error when it could not be (the reader gone). On an error, stdout's later
 * 'error' event is left to this (a no-op): the caller answers, not exitWhenStdoutFails.
 */
export function writeStdout(text: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    let failed: NodeJS.ErrnoException | undefined;
    const onError = (err: NodeJS.ErrnoException) => {
      failed ??= err;
    };
    process.stdout.on('error', onError);
    process.stdout.write(text, (err?: Error | null) => {
      failed ??= err ?? undefined;
      // Written: stdout's errors are everyone's again. Failed: it stays dead, and this keeps listening.
      if (!failed) process.stdout.off('error', onError);
      resolve(failed);
    });
  });
}

/**
 * A command's lines on stdout, kept when stdout's reader is gone: what the command did (a credit
 * granted under a new id) is then said on stderr, so it is not run again to find out, and twice.
 */
export function printedLines() {
  let closed: NodeJS.ErrnoException | undefined;
  const unwritten: string[] = [];
  const onError = (err: NodeJS.ErrnoException) => {
    closed ??= err;
  };
  // Listening here keeps exitWhenStdoutFails (main.ts) quiet while the command runs.
  process.stdout.on('error', onError);
  return {
    out(line: string) {
      if (closed) unwritten.push(line);
      else
        process.stdout.write(`${line}\n`, (err) => {
          if (err) {
            closed ??= err;
            unwritten.push(line);
          }
        });
    },
    /** The command's status, or 1 with what it printed in vain on stderr once every write has been answered. */
    async settle(what: string, status: number): Promise<number> {
      if (!closed) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      if (!closed) return status;
      const done = unwritten.length > 0 ? `; what it printed:\n${unwritten.map((l) => `  ${l}`).join('\n')}` : '';
      process.stderr.write(`${stdoutFailure(what, closed)}${done}\n`);
      return 1;
    },
    stop() {
      process.stdout.off('error', onError);
    },
  };
}
