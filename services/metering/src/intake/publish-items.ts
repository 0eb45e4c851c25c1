// What `vault publish` hands the intake, item by item: how its input is split into events
// (NDJSON lines here; a JSON array's elements or a sequence of JSON values in the CLI),
// told apart from the publishing itself (publish-stream.ts).
import type { Reason } from '@vault/contracts';
import { StreamLines, type StreamLine } from './stream-lines.ts';

/**
 * A line (or element) to judge; one refused by its size alone (its bytes were not all held);
 * or one refused by how it was read (`refused`: its brackets do not match, so where it ends
 * is a guess). The last two are reported, never published.
 */
export type PublishItem = StreamLine | { index: number; refused: Reason };

/** Splits a stream's bytes into items, chunk by chunk. */
export interface Splitter {
  /** The items that `chunk` ends. */
  push(chunk: Buffer): PublishItem[];
  /** The last items, once the input has ended. */
  end(): PublishItem[];
  /**
   * Bytes of an item begun and not ended (0 when only whitespace): what is left unsent when
   * the reading is interrupted, as a part of an event is never published.
   */
  unfinished(): number;
}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** NDJSON lines (stream-lines.ts), and the bytes after the last newline. */
export class NdjsonSplitter implements Splitter {
  private readonly lines = new StreamLines();
  /** Bytes since the last newline, and whether any of them is not blank. */
  private tail = 0;
  private tailBlank = true;

  push(chunk: Buffer): PublishItem[] {
    const last = chunk.lastIndexOf(0x0a);
    if (last === -1) this.tail += chunk.length;
    else {
      this.tail = chunk.length - last - 1;
      this.tailBlank = true;
    }
    if (this.tailBlank) {
      for (let i = last + 1; i < chunk.length; i++) {
        if (!isSpace(chunk[i]!)) {
          this.tailBlank = false;
          break;
        }
      }
    }
    return this.lines.push(chunk);
  }

  end(): PublishItem[] {
    return this.lines.end();
  }

  unfinished(): number {
    return this.tailBlank ? 0 : this.tail;
  }
}
