import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { publishStream } from '@vault/metering/publish';
import { withPublishTarget } from './bus-publish.ts';
import { CommandError, parseCommand } from './command.ts';
import { InputReadError, readEventInput, UnreadableInput, type EventInput } from './publish-input.ts';
import { cliLog, cliSettings } from './settings.ts';
import { publishSpec } from './publish-spec.ts';

/**
 * `vault publish [FILE]`: events from FILE (or stdin) onto the bus, exactly as
 * `POST /v1/events` puts them. Prints each rejected line (or array element)
 * with its number and reason as soon as its chunk is on the bus, then a
 * summary; exit status 1 when any was rejected or a JSON array was broken off.
 */
export async function publishCommand(args: string[]): Promise<number> {
  const file = parseCommand(publishSpec, args).positionals[0];
  const fromStdin = file === undefined || file === '-';
  const name = fromStdin ? 'stdin' : file;
  const handle = fromStdin ? undefined : await openEventsFile(file);
  const stream: Readable = handle ? handle.createReadStream() : process.stdin;
  // Typed at a terminal, the events end with Ctrl-D: say so rather than wait in silence.
  if (!handle && process.stdin.isTTY) process.stderr.write('vault publish: reading events from the terminal; end with Ctrl-D\n');
  try {
    let input: EventInput;
    try {
      input = await readEventInput(stream);
    } catch (err) {
      if (err instanceof UnreadableInput) throw new CommandError(`cannot read ${name}: ${err.message}`);
      throw err instanceof InputReadError ? readError(name, err) : err;
    }
    const settings = cliSettings({ apps: ['metering'] });
    return await withPublishTarget(settings, 'vault-publish', async (target) => {
      const started = performance.now();
      let reportAt = 50_000;
      const array = input.format === 'json-array';
      const summary = await publishStream(target, Readable.from(input.ndjson), {
        // Each chunk's rejections as soon as it is on the bus, then forgotten, the next chunk read once
        // they are written (stderr a slow pipe: its queue would grow instead, and exit would cut it).
        onRejected: (rejected) => {
          const lines = rejected.map(
            (r) => `${array ? `element [${r.index}]` : `line ${r.index + 1}`}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}\n`,
          );
          return new Promise<void>((resolve) => process.stderr.write(lines.join(''), () => resolve()));
        },
        onProgress: (s) => {
          if (s.lines < reportAt) return;
          reportAt += 50_000;
          cliLog.info('publish.progress', { lines: s.lines, accepted: s.accepted, rejected: s.rejected });
        },
      }).catch((err: unknown) => {
        throw err instanceof InputReadError ? readError(name, err) : err;
      });
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `published ${summary.lines} ${array ? 'array elements' : 'lines'} to ${target.topic} (${target.bus.kind} bus): ` +
          `${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected} rejected ` +
          `in ${seconds.toFixed(1)}s`,
      );
      const problem = input.problem();
      if (problem) {
        const n = input.elements();
        console.error(
          `vault publish: ${name} is not a whole JSON array: ${problem}; the ${n} element${n === 1 ? '' : 's'} before that went on the bus`,
        );
        return 1;
      }
      return summary.rejected > 0 ? 1 : 0;
    });
  } finally {
    if (handle) {
      stream.destroy();
      await handle.close().catch(() => {});
    }
  }
}

/** FILE, open for reading; what is wrong with it in one line (exit 2) when it cannot be. */
async function openEventsFile(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${errnoText(err)}`, 2);
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw new CommandError(`cannot read ${file}: it is a directory, not a file of events`, 2);
  }
  return handle;
}

function readError(name: string, err: InputReadError): CommandError {
  return new CommandError(`cannot read ${name}: ${errnoText(err.cause)}`);
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a file of events';
    default:
      return e.code ?? e.message;
  }
}
