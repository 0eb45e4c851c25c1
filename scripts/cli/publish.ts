import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { publishStream, type PublishSummary } from '@vault/metering/publish';
import { withPublishTarget } from './bus-publish.ts';
import { CommandError, parseCommand } from './command.ts';
import { endEarly } from './early-exit.ts';
import { InputReadError, readEventInput, UnreadableInput, type EventInput } from './publish-input.ts';
import { progressLog } from './publish-log.ts';
import { cliSettings } from './settings.ts';
import { publishSpec } from './publish-spec.ts';

/** The exit status of a run stopped by a signal: 128 + its number, as a shell reports it. */
const SIGNAL_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_STATUS;

/**
 * `vault publish [FILE]`: events from FILE (or stdin) onto the bus, exactly as
 * `POST /v1/events` puts them. Prints each rejected line (or array element)
 * with its number and reason as soon as its chunk is on the bus, then a
 * summary; exit status 1 when any was rejected or a JSON array was broken off.
 * SIGINT or SIGTERM stops the reading: what was read is published, the summary
 * printed, exit 130 or 143 (a second signal ends it at once).
 */
export async function publishCommand(args: string[]): Promise<number> {
  const file = parseCommand(publishSpec, args).positionals[0];
  const fromStdin = file === undefined || file === '-';
  const name = fromStdin ? 'stdin' : file;
  const handle = fromStdin ? undefined : await openEventsFile(file);
  const stream: Readable = handle ? handle.createReadStream() : process.stdin;
  const stop = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    if (stoppedBy) {
      void endEarly(SIGNAL_STATUS[signal]);
      return;
    }
    stoppedBy = signal;
    stop.abort();
    // Stops the read under way (a live stdin would keep the process waiting).
    stream.destroy();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Typed at a terminal, the events end with Ctrl-D: say so rather than wait in silence.
  if (!handle && process.stdin.isTTY) process.stderr.write('vault publish: reading events from the terminal; end with Ctrl-D\n');
  try {
    let input: EventInput;
    try {
      input = await readEventInput(stream, { signal: stop.signal, ...(handle ? { file } : {}) });
    } catch (err) {
      if (err instanceof UnreadableInput) throw new CommandError(`cannot read ${name}: ${err.message}`);
      throw err instanceof InputReadError ? readError(name, err) : err;
    }
    const settings = cliSettings({ apps: ['metering'] });
    const unit = UNITS[input.format];
    return await withPublishTarget(settings, 'vault-publish', async (target) => {
      const started = performance.now();
      let reportAt = 50_000;
      let sofar: PublishSummary = { lines: 0, accepted: 0, duplicates: 0, rejected: 0 };
      const summary = await publishStream(target, input.bytes, {
        split: input.split,
        signal: stop.signal,
        cutShort: () => input.stopped(),
        // Each chunk's rejections as soon as it is on the bus, then forgotten, the next chunk read once
        // they are written (stderr a slow pipe: its queue would grow instead, and exit would cut it).
        onRejected: (rejected) => {
          const lines = rejected.map((r) => `${unit.item(r.index)}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}\n`);
          return new Promise<void>((resolve) => process.stderr.write(lines.join(''), () => resolve()));
        },
        onProgress: (s) => {
          sofar = { ...s };
          if (s.lines < reportAt) return;
          reportAt += 50_000;
          progressLog.info('publish.progress', { lines: s.lines, accepted: s.accepted, rejected: s.rejected });
        },
      }).catch((err: unknown) => {
        // Part-way: what is on the bus already is said, and that running it again is safe.
        process.stderr.write(`vault publish: stopped part-way: ${counts(sofar, unit)} were on the bus before this failure; ${AGAIN}\n`);
        throw err instanceof InputReadError ? readError(name, err) : err;
      });
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `published ${summary.lines} ${unit.plural} to ${target.topic} (${target.bus.kind} bus): ` +
          `${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected} rejected ` +
          `in ${seconds.toFixed(1)}s`,
      );
      if (stoppedBy && input.stopped()) {
        const cut = input.split.unfinished();
        const unfinished = cut > 0 ? `; the ${unit.singular} it was reading when stopped (${cut} bytes so far) was not published` : '';
        console.error(
          `vault publish: stopped by ${stoppedBy} before the end of ${name}: the ${summary.lines} ${unit.plural} read whole went on the bus${unfinished}; ${AGAIN}`,
        );
        return SIGNAL_STATUS[stoppedBy];
      }
      const problem = input.problem();
      if (problem) {
        const n = input.elements();
        console.error(
          `vault publish: ${name} is not ${unit.whole}: ${problem}; the ${n} ${n === 1 ? unit.short : `${unit.short}s`} before that went on the bus`,
        );
        return 1;
      }
      return summary.rejected > 0 ? 1 : 0;
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (handle) {
      stream.destroy();
      await handle.close().catch(() => {});
    }
  }
}

const AGAIN = 'running it again is safe: metering recognises what is already on the bus (the same source and id) as duplicates';

interface Unit {
  singular: string;
  plural: string;
  /** Its name after a count of those before a break. */
  short: string;
  /** What a broken input is not. */
  whole: string;
  /** How a rejection names its item. */
  item(index: number): string;
}

const UNITS: Record<EventInput['format'], Unit> = {
  ndjson: { singular: 'line', plural: 'lines', short: 'line', whole: 'NDJSON', item: (i) => `line ${i + 1}` },
  'json-array': {
    singular: 'array element',
    plural: 'array elements',
    short: 'element',
    whole: 'a whole JSON array',
    item: (i) => `element [${i}]`,
  },
  'json-values': { singular: 'JSON value', plural: 'JSON values', short: 'value', whole: 'whole JSON values', item: (i) => `value [${i}]` },
};

function counts(s: PublishSummary, unit: Unit): string {
  const what = `${s.lines} ${s.lines === 1 ? unit.singular : unit.plural}`;
  return `${what} (${s.accepted} accepted, ${s.duplicates} duplicate, ${s.rejected} rejected)`;
}

/** FILE, open for reading; what is wrong with it in one line (exit 1: a failure, not a usage error) when it cannot be. */
async function openEventsFile(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${errnoText(err)}`);
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw new CommandError(`cannot read ${file}: it is a directory, not a file of events`);
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
