// A JSON array's elements, or a sequence of JSON values (a pretty-printed event, `jq .` of
// several), split into the events `vault publish` hands the intake, as the input is read.
import { MAX_EVENT_BYTES } from '@vault/contracts';
import type { PublishItem, Splitter } from '@vault/metering/publish';

/** `array`: `[e0, e1, …]`; `values`: objects one after another, whitespace between. */
export type Framing = 'array' | 'values';

type State = 'start' | 'first' | 'next' | 'element' | 'after' | 'skip' | 'skipEnd' | 'done' | 'broken';

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const opener = (closer: number) => (closer === CLOSE_BRACE ? OPEN_BRACE : OPEN_BRACKET);

/** A byte for a message: the character when it is printable ASCII. */
const shown = (b: number) => (b > 0x20 && b < 0x7f ? String.fromCharCode(b) : `byte 0x${b.toString(16).padStart(2, '0')}`);

/**
 * Byte by byte: strings, escapes and brackets are followed only to find where each element
 * ends; each is passed on as sent (as the HTTP intake keeps an array body's elements), on one
 * line (`oneLine`), for the intake to judge with its index. Memory is bounded: at most
 * MAX_EVENT_BYTES of an element (and a chunk) are held.
 *
 * - An element over MAX_EVENT_BYTES (as sent, from its first byte to its closer, or to the `,`
 *   after a scalar) is counted and dropped as it is read, then refused by its size (the
 *   intake's reason for a line over 64 KiB), never published.
 * - Brackets are matched with a stack. A closer that is not the innermost open bracket's
 *   (`}` where `[` is open) makes the element rejected, naming the line and the element, never
 *   published (where it truly ends is a guess): if the closer matches a bracket open further
 *   out, the ones between are taken as closed (`{"data":[1}` ends at its `}`); if it matches
 *   none of the element's, the element ends just before it. Resynchronising: after such an
 *   element, closers up to the next `,` (array) or `{` (values) are skipped as its leftovers;
 *   in an array a `]` with only whitespace after it still ends the array.
 * - A broken frame (a missing `]`, an empty element, a trailing comma, something after the
 *   `]`, something other than an object between values) ends the items there, `problem`
 *   saying what and on which line; an element the input ends inside is not published.
 */
export class JsonValuesSplitter implements Splitter {
  /** Elements handed on (published or refused). */
  count = 0;
  problem: string | undefined;
  private state: State;
  private line = 1;
  /** The element's open brackets, innermost last, and the line each was opened on. */
  private stack: number[] = [];
  private stackLines: number[] = [];
  private inString = false;
  private escaped = false;
  private startLine = 0;
  /** The element's bytes so far (none once over the limit or mismatched), and its size. */
  private parts: Buffer[] = [];
  private size = 0;
  private mismatch: string | undefined;

  constructor(private readonly framing: Framing) {
    this.state = framing === 'array' ? 'start' : 'next';
  }

  push(chunk: Buffer): PublishItem[] {
    const out: PublishItem[] = [];
    let from = this.state === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length && this.state !== 'broken'; i++) {
      const b = chunk[i]!;
      if (b === NEWLINE) this.line++;
      switch (this.state) {
        case 'start':
          // Only blanks come before the [ (readEventInput saw to that).
          if (b === OPEN_BRACKET) this.state = 'first';
          continue;
        case 'first':
        case 'next':
          if (isSpace(b)) continue;
          if (this.framing === 'values' && b !== OPEN_BRACE) {
            this.broken(`line ${this.line}: expected { to start value [${this.count}], found ${shown(b)}`);
            continue;
          }
          if (this.framing === 'array' && b === CLOSE_BRACKET && this.state === 'first') {
            this.state = 'done';
            continue;
          }
          if (this.framing === 'array' && (b === COMMA || b === CLOSE_BRACKET)) {
            this.broken(
              `line ${this.line}: expected an element ${this.state === 'first' ? 'or ] after [' : "after ','"}, found ${shown(b)}`,
            );
            continue;
          }
          this.begin();
          from = i;
          i--; // read this byte again as the element's first (never a blank)
          continue;
        case 'element': {
          const ended = this.element(b, i, chunk, from);
          if (ended !== undefined) {
            out.push(ended.item);
            from = -1;
            // Its , ] or } read again after it (never a line break).
            if (ended.again) i--;
          }
          continue;
        }
        case 'after':
          if (isSpace(b)) continue;
          if (this.framing === 'values') {
            this.state = 'next';
            i--;
          } else if (b === COMMA) this.state = 'next';
          else if (b === CLOSE_BRACKET) this.state = 'done';
          else this.broken(`line ${this.line}: expected , or ] after element [${this.count - 1}], found ${shown(b)}`);
          continue;
        case 'skip':
          if (isSpace(b) || b === CLOSE_BRACE) continue;
          if (b === CLOSE_BRACKET) {
            if (this.framing === 'array') this.state = 'skipEnd';
          } else if (this.framing === 'array' && b === COMMA) this.state = 'next';
          else if (this.framing === 'values' && b === OPEN_BRACE) {
            this.state = 'next';
            i--;
          } else {
            this.broken(
              `line ${this.line}: expected ${this.framing === 'array' ? ', or ]' : '{'} after element [${this.count - 1}], found ${shown(b)}`,
            );
          }
          continue;
        case 'skipEnd':
          // A ] after a broken element: the array's end if nothing but whitespace follows.
          if (isSpace(b) || b === CLOSE_BRACKET) continue;
          if (b === COMMA) this.state = 'next';
          else if (b === CLOSE_BRACE) this.state = 'skip';
          else this.broken(`line ${this.line}: unexpected ${shown(b)} after the array's closing ]`);
          continue;
        case 'done':
          if (!isSpace(b)) this.broken(`line ${this.line}: unexpected ${shown(b)} after the array's closing ]`);
          continue;
      }
    }
    if (this.state === 'element' && from !== -1) this.hold(chunk.subarray(from));
    return out;
  }

  end(): PublishItem[] {
    if (this.state === 'broken') return [];
    if (this.state === 'element') {
      const what = this.framing === 'array' ? 'element' : 'value';
      this.problem = `the input ended inside ${what} [${this.count}] (begun on line ${this.startLine})${this.framing === 'array' ? ", before the array's closing ]" : ''}`;
    } else if (this.framing === 'array' && this.state !== 'done' && this.state !== 'skipEnd') {
      this.problem = "the input ended before the array's closing ]";
    }
    return [];
  }

  /** Bytes of the element held now (at most MAX_EVENT_BYTES and a chunk). */
  get held(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }

  unfinished(): number {
    return this.state === 'element' ? this.size : 0;
  }

  private begin(): void {
    this.state = 'element';
    this.stack = [];
    this.stackLines = [];
    this.inString = false;
    this.escaped = false;
    this.parts = [];
    this.size = 0;
    this.mismatch = undefined;
    this.startLine = this.line;
  }

  /** Follows byte `b` (at `i` of `chunk`, the element's part of it from `from`): the element's item once it ends. */
  private element(b: number, i: number, chunk: Buffer, from: number): { item: PublishItem; again: boolean } | undefined {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (b === BACKSLASH) this.escaped = true;
      else if (b === QUOTE) this.inString = false;
      return undefined;
    }
    if (this.stack.length === 0 && this.framing === 'array' && (b === COMMA || b === CLOSE_BRACKET)) {
      // A number, string, true, false or null ends at the , or ] after it.
      return { item: this.finish(chunk, from, i, 'after'), again: true };
    }
    if (b === QUOTE) this.inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      this.stack.push(b);
      this.stackLines.push(this.line);
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      const at = this.stack.lastIndexOf(opener(b));
      if (at !== this.stack.length - 1) this.mismatched(b);
      // It matches none of the element's brackets: the element ends before it, the closer read again.
      if (at === -1) return { item: this.finish(chunk, from, i, 'skip'), again: true };
      this.stack.length = at;
      this.stackLines.length = at;
      if (at === 0) return { item: this.finish(chunk, from, i + 1, this.mismatch === undefined ? 'after' : 'skip'), again: false };
    }
    return undefined;
  }

  private mismatched(closer: number): void {
    if (this.mismatch !== undefined) return;
    const open = this.stack.at(-1);
    const what = this.framing === 'array' ? 'element' : 'value';
    this.mismatch =
      open === undefined
        ? `${shown(closer)} on line ${this.line} closes nothing in ${what} [${this.count}]`
        : `${shown(closer)} on line ${this.line} closes ${shown(open)} (opened on line ${this.stackLines.at(-1)}) in ${what} [${this.count}]`;
    // Never published: its bytes are not needed any more.
    this.parts = [];
  }

  /** Holds `bytes` of the element while it may still be published (not over the limit, not mismatched). */
  private hold(bytes: Buffer): void {
    this.size += bytes.length;
    if (this.mismatch !== undefined || this.size > MAX_EVENT_BYTES) this.parts = [];
    else this.parts.push(Buffer.from(bytes));
  }

  /** The element, ended at `end` of `chunk` (from `from`), as its item; the state after it. */
  private finish(chunk: Buffer, from: number, end: number, next: State): PublishItem {
    const start = from === -1 ? end : from;
    this.hold(chunk.subarray(start, end));
    const index = this.count++;
    this.state = next;
    const size = this.size;
    const parts = this.parts;
    this.parts = [];
    if (this.mismatch !== undefined) return { index, refused: { field: '', code: 'not_json', message: `not JSON: ${this.mismatch}` } };
    if (size > MAX_EVENT_BYTES) return { index, tooLong: size };
    return { index, bytes: trim(oneLine(Buffer.concat(parts))) };
  }

  private broken(problem: string): void {
    this.problem = problem;
    this.state = 'broken';
  }
}

/**
 * An element as sent, on one line. Outside strings a line break is whitespace:
 * a space changes no token (1e400 stays 1e400). JSON strings hold none raw, so
 * one inside a string makes the element invalid, and it must stay so (as
 * `POST /v1/events` refuses it): a raw LF there becomes a raw CR, still a
 * control character JSON refuses but no NDJSON line end; a raw CR stays. An
 * element that is not JSON, or not UTF-8, goes on for the intake to reject and keep.
 */
function oneLine(bytes: Buffer): Buffer {
  const line = bytes;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if (inString) {
      if (b === 0x0a) line[i] = 0x0d;
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === 0x0a || b === 0x0d) line[i] = 0x20;
  }
  return line;
}

function trim(line: Buffer): Buffer {
  let start = 0;
  let end = line.length;
  while (start < end && isSpace(line[start]!)) start++;
  while (end > start && isSpace(line[end - 1]!)) end--;
  return line.subarray(start, end);
}
