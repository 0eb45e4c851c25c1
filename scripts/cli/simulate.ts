import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { DateTime } from 'luxon';
import type { BillingEvent, IntakeRejection } from '@vault/contracts';
import { publishStream, type PublishSummary } from '@vault/metering/publish';
import type { Logger } from '@vault/runtime';
import { demoWindow, recentWindow, simulatePlatform, type SimulationWindow } from '@vault/simulator';
import { CommandError, parseCommand, UsageError } from './command.ts';
import { withPublishTarget, type PublishTarget } from './bus-publish.ts';
import { progressLog } from './publish-log.ts';
import { cliSettings } from './settings.ts';
import { simulateSpec } from './simulate-spec.ts';
import { stdoutFailure } from './stdout.ts';

export interface PublishEventsOptions extends PublishTarget {
  /** Names the progress bar; `simulate` when unset. */
  label?: string;
  /**
   * Progress: by default a bar updating in place on stderr when it is a
   * terminal, otherwise a logfmt line on `log` every 10%; a function to
   * receive the counts instead; false for none.
   */
  progress?: false | ((published: number, total: number) => void);
  /** For the logfmt progress lines; on stderr when unset (publish-log.ts), stdout keeping the summary alone. */
  log?: Logger;
  /** Each chunk's rejections once that chunk is on the bus; the summary keeps only their count. */
  onRejected?(rejected: IntakeRejection[]): void;
}

/**
 * Puts `events` on the bus exactly as `vault publish` puts NDJSON lines (the
 * same intake, `publishStream`): every event goes to its subject's partition,
 * durable before this resolves. Resolves to the intake's counts; a rejection
 * (to `onRejected`) has the event's position in `events` as its `index`.
 * Throws only when the bus or the database fails.
 */
export async function publishEvents(events: readonly BillingEvent[], o: PublishEventsOptions): Promise<PublishSummary> {
  const total = events.length;
  const report = o.progress === false ? undefined : (o.progress ?? progressReporter(o.label ?? 'simulate', total, o.log ?? progressLog));
  // Small chunks, so progress moves about every 2%; each is one intake and one durable publish.
  const chunkLines = Math.max(20, Math.ceil(total / 50));
  const summary = await publishStream({ bus: o.bus, pool: o.pool, topic: o.topic }, Readable.from(ndjsonChunks(events, chunkLines)), {
    chunkLines,
    ...(o.onRejected ? { onRejected: o.onRejected } : {}),
    onProgress: (s) => report?.(s.lines, total),
  });
  return summary;
}

function* ndjsonChunks(events: readonly BillingEvent[], size: number): Generator<Buffer> {
  for (let i = 0; i < events.length; i += size) {
    yield Buffer.from(
      events
        .slice(i, i + size)
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    );
  }
}

const BAR_WIDTH = 30;

/** `simulate [#######.......] 52% 1840/3520 events` in place on a terminal; else a logfmt line every 10%. */
export function progressReporter(
  label: string,
  total: number,
  log: Logger,
  stream: NodeJS.WriteStream = process.stderr,
): (published: number, total: number) => void {
  if (stream.isTTY) {
    return (published) => {
      const filled = total === 0 ? BAR_WIDTH : Math.round((published / total) * BAR_WIDTH);
      const percent = total === 0 ? 100 : Math.floor((published / total) * 100);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${percent}% ${published}/${total} events`);
      if (published >= total) stream.write('\n');
    };
  }
  let nextTenth = 1;
  return (published) => {
    const tenths = total === 0 ? 10 : Math.floor((published / total) * 10);
    if (tenths < nextTenth) return;
    nextTenth = tenths + 1;
    log.info('simulate.progress', { label, published, total, percent: tenths * 10 });
  };
}

interface SimulateOptions {
  seed: number;
  apps: number;
  accounts: number;
  weeks: number | undefined;
  out: string | undefined;
  late: boolean;
  now: DateTime;
}

function wholeNumber(name: string, value: string | undefined, fallback: number, min?: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || (min !== undefined && n < min)) {
    throw new UsageError(`simulate: --${name} must be a whole number${min === undefined ? '' : `, ${min} or more`}`);
  }
  return n;
}

/**
 * A simulation is built in memory (about 40 KB an app-week): past this many
 * app-weeks it would take gigabytes and end in a JavaScript string limit.
 */
export const MAX_APP_WEEKS = 10_000;

function parseSimulateArgs(args: string[]): SimulateOptions {
  const { values } = parseCommand(simulateSpec, args);
  let now: DateTime = DateTime.utc();
  if (values.now !== undefined) {
    now = DateTime.fromISO(values.now, { zone: 'utc' });
    if (!now.isValid || !/(Z|[+-]\d\d:\d\d)$/.test(values.now))
      throw new UsageError('simulate: --now must be an RFC 3339 timestamp with an offset, e.g. 2026-11-23T12:00:00Z');
  }
  const o = {
    seed: wholeNumber('seed', values.seed, 1),
    apps: wholeNumber('apps', values.apps, 36, 2),
    accounts: wholeNumber('accounts', values.accounts, 8, 2),
    weeks: values.weeks === undefined ? undefined : wholeNumber('weeks', values.weeks, 0, 1),
    out: values.out,
    late: !values['no-late'],
    now,
  };
  // The demo window is two months at most: about nine weeks.
  const appWeeks = o.apps * (o.weeks ?? 9);
  if (appWeeks > MAX_APP_WEEKS) {
    throw new UsageError(
      `simulate: --apps × --weeks must be at most ${MAX_APP_WEEKS} (here ${o.apps} × ${o.weeks ?? 'the demo window of about 9'}): a simulation is built in memory`,
    );
  }
  // Published, every event after now would be rejected (time_in_future), and only after the whole run.
  if (o.out === undefined && now > DateTime.utc()) {
    throw new UsageError('simulate: --now is in the future: its events would be rejected as time_in_future; write them with --out instead');
  }
  return o;
}

/** Writes the events as NDJSON, a chunk at a time, waiting when `out` is full; rejects on its error (EPIPE). */
async function writeNdjson(out: NodeJS.WritableStream, events: readonly BillingEvent[]): Promise<void> {
  let failed: Error | undefined;
  const onError = (err: Error) => {
    failed = err;
  };
  out.on('error', onError);
  try {
    for (let i = 0; i < events.length && !failed; i += 1_000) {
      const chunk = events
        .slice(i, i + 1_000)
        .map((e) => `${JSON.stringify(e)}\n`)
        .join('');
      const ok = out.write(chunk);
      if (!ok && !failed)
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done);
            out.off('error', done);
            resolve();
          };
          out.once('drain', done);
          out.once('error', done);
        });
    }
    // Flushed: an end-of-writes callback (a file) or an empty write's (stdout, never ended).
    if (!failed) await new Promise<void>((resolve) => out.write('', () => resolve()));
    if (failed) throw failed;
  } finally {
    out.off('error', onError);
  }
}

/** The events as NDJSON in `path`; what went wrong is one line naming --out, not an errno's raw text. */
async function writeOutFile(path: string, events: readonly BillingEvent[]): Promise<void> {
  try {
    const file = createWriteStream(path);
    await writeNdjson(file, events);
    await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    throw new CommandError(`--out ${path}: cannot write it: ${fileProblem(err as NodeJS.ErrnoException)}`);
  }
}

function fileProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return err.code ?? err.message;
  }
}

/**
 * `vault simulate`: a simulated platform's billing events over a window
 * (the demo's by default: from the latest finalizable month up to now), put
 * on the bus like `vault publish` does, the late events last; or written as
 * NDJSON with --out. Exit status 1 when any event was rejected.
 */
export async function simulateCommand(args: string[]): Promise<number> {
  const o = parseSimulateArgs(args);
  const settings = cliSettings({ apps: ['metering'], variables: ['INVOICE_GRACE_HOURS'] });
  const window: SimulationWindow = o.weeks === undefined ? demoWindow(o.now, settings.INVOICE_GRACE_HOURS) : recentWindow(o.now, o.weeks);
  let sim;
  try {
    sim = simulatePlatform({ seed: o.seed, from: window.from, to: window.to, apps: o.apps, accounts: o.accounts });
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`simulate: ${err.message}`);
    throw err;
  }
  const events = o.late ? [...sim.events, ...sim.late] : sim.events;
  const s = sim.summary;
  const what =
    `${s.apps} apps of ${s.accounts} accounts (demo account ${s.demoAccount}), seed ${s.seed}, ` +
    `from ${s.window.from} to ${s.window.to}`;
  const lateNote = o.late ? `the ${sim.late.length} late ones last` : `${sim.late.length} late ones left out`;

  if (o.out !== undefined) {
    if (o.out === '-') {
      try {
        await writeNdjson(process.stdout, events);
      } catch (err) {
        // `vault simulate --out - | head`: the reader went away; say so without a stack.
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
        process.stderr.write(`${stdoutFailure('simulate', err as NodeJS.ErrnoException)} before every event was written\n`);
        return 1;
      }
    } else {
      await writeOutFile(o.out, events);
    }
    // With the events on stdout, the account of what was done goes to stderr.
    const line = `simulated ${what}: wrote ${events.length} events (${s.duplicates} re-sent, ${lateNote}) to ${o.out === '-' ? 'stdout' : o.out}`;
    if (o.out === '-') console.error(line);
    else console.log(line);
    return 0;
  }

  return withPublishTarget(settings, 'vault-simulate', async (target) => {
    const started = performance.now();
    const summary = await publishEvents(events, {
      ...target,
      onRejected: (rejected) => {
        for (const r of rejected) console.error(`event ${r.index + 1}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `simulated ${what}: published ${summary.lines} events (${lateNote}) to ${target.topic} (${target.bus.kind} bus): ` +
        `${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected} rejected in ${seconds.toFixed(1)}s`,
    );
    return summary.rejected > 0 ? 1 : 0;
  });
}
