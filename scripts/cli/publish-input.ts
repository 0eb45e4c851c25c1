// What `vault publish` reads: NDJSON (one event a line), a whole JSON array of events
// (pretty-printed or not), or JSON values one after another (a pretty-printed event,
// `jq .` of several), any of them after a UTF-8 byte order mark, split into the events
// metering's `publishStream` takes as it is read (memory stays bounded however large the
// input). Input that is not UTF-8 text is refused before anything is published.
import { NdjsonSplitter, type Splitter } from '@vault/metering/publish';
import { InputChunks } from './publish-chunks.ts';
import { HEAD_BYTES, unreadableHead } from './publish-head.ts';
import { JsonValuesSplitter } from './publish-json-values.ts';

export { InputReadError } from './publish-chunks.ts';

export type InputFormat = 'ndjson' | 'json-array' | 'json-values';

export interface EventInput {
  format: InputFormat;
  /** The input's bytes, without a byte order mark. */
  bytes: AsyncIterable<Buffer>;
  /** How `bytes` are split into events. */
  split: Splitter;
  /**
   * For a JSON array or JSON values, once `bytes` have ended: what broke them off when
   * they are not whole (the elements before that point were given).
   */
  problem(): string | undefined;
  /** How many elements (or values) were given so far. */
  elements(): number;
  /** True when the signal stopped the reading before the input's end. */
  stopped(): boolean;
}

/** The input is not text `vault publish` can read (UTF-16, gzip, binary): nothing was taken from it. */
export class UnreadableInput extends Error {}

export interface ReadOptions {
  /** Ctrl-C: reading stops; what was read is still given. */
  signal?: AbortSignal;
  /** A file's name, for the command a refusal suggests; undefined for stdin. */
  file?: string;
  /** How long a live input may pause before what came is judged (the head is not waited for). */
  idleMs?: number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const NEWLINE = 0x0a;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Reads the head of `input` (its first 64 KiB, or what a live input sent before it paused),
 * refuses it when it is not UTF-8 text (UTF-16, compressed, NUL bytes, invalid UTF-8), and
 * tells its format, so a wrong input is said before anything is published. Bytes past the head
 * are not checked: a line there that is not UTF-8 is rejected alone, as POST /v1/events does.
 */
export async function readEventInput(input: AsyncIterable<Buffer | string>, o: ReadOptions = {}): Promise<EventInput> {
  const chunks = new InputChunks(input, o.signal);
  const idleMs = o.idleMs ?? 250;
  let head = Buffer.alloc(0);
  for (;;) {
    const known = formatKnown(head);
    if (head.length >= HEAD_BYTES && known) break;
    // The format is needed (the first non-blank byte, a `{` line's end); the rest of the head is
    // waited for only while the input keeps coming.
    const next = await chunks.next(known ? idleMs : undefined);
    if (next === 'idle' || next === undefined) break;
    head = Buffer.concat([head, next]);
  }
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new UnreadableInput('it is UTF-16 text (its byte order mark says so); save it as UTF-8');
  }
  if (head.subarray(0, BOM.length).equals(BOM)) head = head.subarray(BOM.length);
  const unreadable = unreadableHead(head.subarray(0, HEAD_BYTES), chunks.ended && !chunks.stopped && head.length <= HEAD_BYTES, o.file);
  if (unreadable) throw new UnreadableInput(unreadable);

  const bytes: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await chunks.next();
        if (next === undefined || next === 'idle') return;
        yield next;
      }
    },
  };
  const format = formatOf(head);
  const stopped = () => chunks.stopped;
  if (format === 'ndjson') return { format, bytes, split: new NdjsonSplitter(), problem: () => undefined, elements: () => 0, stopped };
  const splitter = new JsonValuesSplitter(format === 'json-array' ? 'array' : 'values');
  return { format, bytes, split: splitter, problem: () => splitter.problem, elements: () => splitter.count, stopped };
}

/** Whether `head` shows its format yet: its first non-blank byte, and, for a `{`, the end of its first line. */
function formatKnown(head: Buffer): boolean {
  const start = head.subarray(0, BOM.length).equals(BOM) ? BOM.length : 0;
  if (head.length < BOM.length && BOM.subarray(0, head.length).equals(head)) return false;
  const first = head.findIndex((b, i) => i >= start && !isSpace(b));
  // All blank so far: past twice the head, it is judged as it is (NDJSON), the head no longer grown.
  if (first === -1) return head.length > 2 * HEAD_BYTES;
  return head[first] !== OPEN_BRACE || head.indexOf(NEWLINE, first) !== -1 || head.length - first > HEAD_BYTES;
}

/**
 * `[` first: a JSON array. `{` first and alone on its line (as `jq .` and every pretty-printer
 * write an object, and no NDJSON event is), or a first object over several lines that is whole
 * JSON (as POST /v1/events reads such a body): JSON values one after another, never read line
 * by line (a pretty-printed event's lines were published as a dozen junk events, the event
 * never). Anything else (a first line that is one object, or not JSON, or cut short): NDJSON,
 * its broken lines refused alone.
 */
function formatOf(head: Buffer): InputFormat {
  const first = head.findIndex((b) => !isSpace(b));
  if (first === -1) return 'ndjson';
  if (head[first] === OPEN_BRACKET) return 'json-array';
  if (head[first] !== OPEN_BRACE) return 'ndjson';
  let lineEnd = head.indexOf(NEWLINE, first);
  if (lineEnd === -1) lineEnd = head.length;
  if (head.subarray(first + 1, lineEnd).every(isSpace)) return 'json-values';
  const end = objectEnd(head, first);
  if (end === -1 || end <= lineEnd) return 'ndjson';
  try {
    JSON.parse(head.subarray(first, end).toString('utf8'));
    return 'json-values';
  } catch {
    return 'ndjson';
  }
}

/** Where the object opened at `start` ends (brackets counted outside strings), or -1 when not in `head`. */
function objectEnd(head: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < head.length; i++) {
    const b = head[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
    else if ((b === 0x7d || b === 0x5d) && --depth === 0) return i + 1;
  }
  return -1;
}
