// One leading UTF-8 byte order mark, dropped at each door (an HTTP body, a Kafka message's value)
// as `vault publish` drops it from a file: a Windows tool or an editor writes one, and the event
// behind it is the same event. JSON.parse keeps U+FEFF, so parseEvent alone refuses it (not_json).

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The bytes without one leading UTF-8 byte order mark (no copy: a view). */
export function withoutUtf8Bom(bytes: Buffer): Buffer {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(UTF8_BOM.length) : bytes;
}
