// What `vault publish` refuses before publishing anything: input that is not UTF-8 text.
// Compressed or binary bytes read as lines used to put thousands of junk events on the bus
// (`vault publish sim.ndjson.gz`).

/** How much of the input is looked at before anything is published: the most one event may be (64 KiB). */
export const HEAD_BYTES = 64 * 1024;

interface Magic {
  bytes: number[];
  what: string;
  /** The command that turns FILE into text on stdout. */
  undo: string;
}

const MAGICS: Magic[] = [
  { bytes: [0x1f, 0x8b], what: 'gzip-compressed', undo: 'gunzip -c' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd-compressed', undo: 'zstd -dc' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz-compressed', undo: 'xz -dc' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive', undo: 'unzip -p' },
  { bytes: [0x50, 0x4b, 0x05, 0x06], what: 'a zip archive', undo: 'unzip -p' },
];

/** bzip2: `BZh` and a block size digit (1–9): no JSON text starts so. */
const isBzip2 = (head: Buffer) => head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39;

/**
 * Why `head` (the input's first bytes, after any UTF-8 byte order mark) is not text
 * `vault publish` reads, in words for `cannot read <name>: …`; undefined when it is.
 * `complete`: `head` is the whole input (a character cut at its end is then invalid).
 * `file`: the file's name for the command that fixes it, or undefined for stdin.
 */
export function unreadableHead(head: Buffer, complete: boolean, file: string | undefined): string | undefined {
  const fix = (undo: string) =>
    file === undefined ? `decompress it first (… | ${undo} | vault publish -)` : `decompress it first (${undo} ${file} | vault publish -)`;
  for (const magic of MAGICS) {
    if (magic.bytes.every((b, i) => head[i] === b)) {
      const how = magic.what === 'a zip archive' ? fix(magic.undo).replace('decompress it', 'extract it') : fix(magic.undo);
      return `it is ${magic.what}: ${how}; nothing was published`;
    }
  }
  if (isBzip2(head)) return `it is bzip2-compressed: ${fix('bzip2 -dc')}; nothing was published`;
  const nul = head.indexOf(0x00);
  if (nul !== -1) {
    return `it holds a NUL byte (byte ${nul + 1}, line ${lineAt(head, nul)}): it is binary, or UTF-16 without a byte order mark, not UTF-8 text; nothing was published`;
  }
  const bad = invalidUtf8At(head, complete);
  if (bad !== -1) {
    return (
      `it is not UTF-8 text (byte ${bad + 1}, line ${lineAt(head, bad)}: 0x${head[bad]!.toString(16).padStart(2, '0')} starts no UTF-8 character); ` +
      'save it as UTF-8 (from Latin-1: iconv -f latin1 -t utf-8); nothing was published'
    );
  }
  return undefined;
}

function lineAt(head: Buffer, at: number): number {
  let line = 1;
  for (let i = head.indexOf(0x0a); i !== -1 && i < at; i = head.indexOf(0x0a, i + 1)) line++;
  return line;
}

/**
 * The offset of the first byte that starts no valid UTF-8 character (an overlong form, a
 * surrogate, past U+10FFFF, a lone continuation byte), or -1. Unless `complete`, a character
 * cut by the end of `bytes` is let be: the rest of it is still to come.
 */
export function invalidUtf8At(bytes: Buffer, complete: boolean): number {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const more = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (more === -1) return i;
    // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
    const low = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const high = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= more; k++) {
      const b = bytes[i + k];
      if (b === undefined) return complete ? i : -1;
      if (k === 1 ? b < low || b > high : (b & 0xc0) !== 0x80) return i;
    }
    i += more + 1;
  }
  return -1;
}
