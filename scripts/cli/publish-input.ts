// What `vault publish` reads: NDJSON (one event a line) or a whole JSON array
// of events (pretty-printed or not), either after a UTF-8 byte order mark,
// turned into the NDJSON that metering's `publishStream` takes, read as it
// goes (memory stays bounded however large the file).

export type InputFormat = 'ndjson' | 'json-array';

export interface EventInput {
  format: InputFormat;
  /** One event a line: an NDJSON input's lines as they are, or a JSON array's elements, element i on line i. */
  ndjson: AsyncIterable<Buffer>;
  /**
   * For a JSON array, once `ndjson` has ended: what broke it off when it is
   * not one (the elements before that point were given).
   */
  problem(): string | undefined;
  /** How many elements of a JSON array were given so far. */
  elements(): number;
}

/** The input is not text `vault publish` can read (UTF-16, say): nothing was taken from it. */
export class UnreadableInput extends Error {}

/** Reading the input failed (an I/O error): `cause` is the error. */
export class InputReadError extends Error {}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const OPEN_BRACKET = 0x5b;
const NEWLINE = Buffer.from('\n');
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Reads `input` up to its first non-blank byte to tell NDJSON from a JSON
 * array (and drop a byte order mark), so a wrong input is said before
 * anything is published.
 */
export async function readEventInput(input: AsyncIterable<Buffer | string>): Promise<EventInput> {
  const iterator = input[Symbol.asyncIterator]();
  // An I/O error is the input's, told apart from the bus's or the database's.
  const chunks = {
    next: () =>
      iterator.next().catch((err: unknown) => {
        throw new InputReadError((err as Error).message, { cause: err });
      }),
  };
  let head = Buffer.alloc(0);
  let ended = false;
  // Enough of the head to see past a BOM and the leading blanks.
  for (;;) {
    const maybeBom = head.length < BOM.length && BOM.subarray(0, head.length).equals(head);
    const start = head.subarray(0, BOM.length).equals(BOM) ? BOM.length : 0;
    const firstByte = head.subarray(start).findIndex((b) => !isSpace(b));
    if (ended || (!maybeBom && firstByte !== -1)) break;
    const next = await chunks.next();
    if (next.done) ended = true;
    else head = Buffer.concat([head, toBuffer(next.value)]);
  }
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new UnreadableInput('it is UTF-16 text (its byte order mark says so); save it as UTF-8');
  }
  if (head.subarray(0, BOM.length).equals(BOM)) head = head.subarray(BOM.length);
  const rest: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      if (head.length > 0) yield head;
      if (ended) return;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield toBuffer(next.value);
      }
    },
  };
  const first = head.find((b) => !isSpace(b));
  if (first !== OPEN_BRACKET) return { format: 'ndjson', ndjson: rest, problem: () => undefined, elements: () => 0 };
  const splitter = new ArraySplitter();
  return {
    format: 'json-array',
    ndjson: splitter.lines(rest),
    problem: () => splitter.problem,
    elements: () => splitter.count,
  };
}

/** A byte for a message: the character when it is printable ASCII. */
const shown = (b: number) => (b > 0x20 && b < 0x7f ? String.fromCharCode(b) : `byte 0x${b.toString(16).padStart(2, '0')}`);

const toBuffer = (chunk: Buffer | string) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));

/**
 * A JSON array's elements, one a line, byte by byte: strings, escapes and
 * nesting are followed only to find where each element ends. Each element is
 * passed on as sent (as the HTTP intake keeps an array body's elements), on
 * one line (`oneLine`), for the intake to judge with its index. A broken array
 * (a missing `]`, an empty element, a trailing comma, something after the `]`)
 * ends the lines there, with `problem` saying what and on which line.
 */
class ArraySplitter {
  count = 0;
  problem: string | undefined;
  private state: 'start' | 'first' | 'next' | 'element' | 'after' | 'done' = 'start';
  private line = 1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];

  async *lines(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      const out: Buffer[] = [];
      const ok = this.take(chunk, out);
      if (out.length > 0) yield Buffer.concat(out);
      if (!ok) return;
    }
    if (this.state !== 'done') {
      this.problem = "the input ended before the array's closing ]";
    }
  }

  /** Follows `chunk`, adding finished elements to `out`; false when the array is broken. */
  private take(chunk: Buffer, out: Buffer[]): boolean {
    let elementStart = this.state === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0a) this.line++;
      switch (this.state) {
        case 'start':
          // Only blanks come before the [ (readEventInput saw to that).
          if (b === OPEN_BRACKET) this.state = 'first';
          continue;
        case 'first':
        case 'next':
          if (isSpace(b)) continue;
          if (b === 0x5d && this.state === 'first') {
            this.state = 'done';
            continue;
          }
          if (b === 0x2c || b === 0x5d) {
            return this.broken(
              `line ${this.line}: expected an element ${this.state === 'first' ? 'or ] after [' : "after ','"}, found ${shown(b)}`,
            );
          }
          this.state = 'element';
          elementStart = i;
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          i--; // read this byte again as the element's first (never a line break)
          continue;
        case 'element':
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (b === 0x5c) this.escaped = true;
            else if (b === 0x22) this.inString = false;
            continue;
          }
          if (b === 0x22) this.inString = true;
          else if (b === 0x7b || b === OPEN_BRACKET) this.depth++;
          else if ((b === 0x7d || b === 0x5d) && this.depth > 0) {
            // An object or array element ends with its closing bracket.
            if (--this.depth === 0) {
              this.parts.push(chunk.subarray(elementStart, i + 1));
              out.push(this.element());
              this.state = 'after';
            }
          } else if (b === 0x7d) return this.broken(`line ${this.line}: unexpected ${shown(b)} in element [${this.count}]`);
          else if (this.depth === 0 && (b === 0x2c || b === 0x5d)) {
            // A number, string, true, false or null ends at the , or ] after it.
            if (i > elementStart) this.parts.push(chunk.subarray(elementStart, i));
            out.push(this.element());
            this.state = b === 0x2c ? 'next' : 'done';
          }
          continue;
        case 'after':
          if (isSpace(b)) continue;
          if (b === 0x2c) this.state = 'next';
          else if (b === 0x5d) this.state = 'done';
          else return this.broken(`line ${this.line}: expected , or ] after element [${this.count - 1}], found ${shown(b)}`);
          continue;
        case 'done':
          if (!isSpace(b)) return this.broken(`line ${this.line}: unexpected ${shown(b)} after the array's closing ]`);
          continue;
      }
    }
    if (this.state === 'element' && elementStart < chunk.length) this.parts.push(Buffer.from(chunk.subarray(elementStart)));
    return true;
  }

  private element(): Buffer {
    const bytes = Buffer.concat(this.parts);
    this.parts = [];
    this.count++;
    const line = oneLine(bytes);
    let start = 0;
    let end = line.length;
    while (start < end && isSpace(line[start]!)) start++;
    while (end > start && isSpace(line[end - 1]!)) end--;
    return Buffer.concat([line.subarray(start, end), NEWLINE]);
  }

  private broken(problem: string): false {
    this.problem = problem;
    return false;
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
  const line = Buffer.from(bytes);
  let inString = false;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if (inString) {
      if (b === 0x0a) line[i] = 0x0d;
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x0a || b === 0x0d) line[i] = 0x20;
  }
  return line;
}
