import { StringDecoder } from 'node:string_decoder';
import { MAX_EVENT_BYTES } from '@vault/contracts';
import { ndjsonLines, type IntakeLine } from './intake.ts';

/** A line of a stream: its bytes, or, over the limit, only its size (its bytes were not all held). */
export type StreamLine = IntakeLine | { index: number; tooLong: number };

const EMPTY = Buffer.alloc(0);

/**
 * NDJSON lines of a stream read chunk by chunk, as `ndjsonLines` reads a whole
 * body (a CR before the LF dropped, blank lines skipped but counted). A line
 * over `limit` bytes can only be refused, so it is handed on as its size alone,
 * whatever the chunks: once an unfinished line passes the limit, its bytes are
 * counted and dropped up to its newline. At most `limit + 1` bytes of a line
 * are held between chunks (before, the unfinished line was copied again with
 * every chunk: one NDJSON line of 100 MB took 90 s and 472 MiB).
 */
export class StreamLines {
  private rest: Buffer = EMPTY;
  private index = 0;
  /** The line past the limit being dropped: its size so far, whether it is blank so far, whether it ends in a CR. */
  private long: { size: number; blank: boolean; text: StringDecoder; cr: boolean } | undefined;

  constructor(private readonly limit = MAX_EVENT_BYTES) {}

  /** Bytes held of the line not ended yet. */
  get held(): number {
    return this.rest.length;
  }

  /** The lines that `chunk` ends. */
  push(chunk: Buffer): StreamLine[] {
    const lines: StreamLine[] = [];
    let from = 0;
    if (this.long) {
      const newline = chunk.indexOf(0x0a);
      this.drop(newline === -1 ? chunk : chunk.subarray(0, newline));
      if (newline === -1) return lines;
      this.endLong(lines);
      from = newline + 1;
    }
    let buf = this.rest.length === 0 ? chunk.subarray(from) : Buffer.concat([this.rest, chunk.subarray(from)]);
    const last = buf.lastIndexOf(0x0a);
    if (last !== -1) {
      this.complete(buf.subarray(0, last), lines);
      buf = buf.subarray(last + 1);
    }
    // One byte more than the limit may still be a CR that ends the line (not counted).
    if (buf.length > this.limit + 1) {
      this.long = { size: 0, blank: true, text: new StringDecoder('utf8'), cr: false };
      this.drop(buf);
      this.rest = EMPTY;
    } else {
      // A copy: a slice would keep the whole chunk alive.
      this.rest = Buffer.from(buf);
    }
    return lines;
  }

  /** The last line, once the stream has ended. */
  end(): StreamLine[] {
    const lines: StreamLine[] = [];
    if (this.long) this.endLong(lines);
    else if (this.rest.length > 0) this.complete(this.rest, lines);
    this.rest = EMPTY;
    return lines;
  }

  private complete(text: Buffer, lines: StreamLine[]): void {
    const split = ndjsonLines(text, this.index);
    this.index = split.nextIndex;
    for (const line of split.lines) lines.push(line.bytes.length > this.limit ? { index: line.index, tooLong: line.bytes.length } : line);
  }

  private drop(bytes: Buffer): void {
    const long = this.long!;
    long.size += bytes.length;
    if (bytes.length > 0) long.cr = bytes[bytes.length - 1] === 0x0d;
    // Decoded only while it is blank: a line of JSON stops that at its first byte.
    if (long.blank) long.blank = long.text.write(bytes).trim() === '';
  }

  private endLong(lines: StreamLine[]): void {
    const long = this.long!;
    this.long = undefined;
    // As ndjsonLines: a blank line is skipped, a CR before the newline is no part of the line.
    if (long.blank && long.text.end().trim() === '') this.index++;
    else lines.push({ index: this.index++, tooLong: long.size - (long.cr ? 1 : 0) });
  }
}
