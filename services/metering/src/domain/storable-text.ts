// Text PostgreSQL can hold as it was sent. JSON may escape U+0000 or half a
// surrogate pair ("\ud800"), which a parsed string then holds: text and jsonb
// refuse U+0000, and half a pair is not Unicode at all: written as UTF-8 it
// becomes U+FFFD, so a stored id would no longer match the id it came from
// (a re-delivery would not be found as a duplicate, and two such ids would
// meet as one). An event holding either is refused, naming the field.

/** Half a surrogate pair: a high one not followed by a low one, or a low one not after a high one. */
export const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LONE_SURROGATE = new RegExp(LONE_SURROGATES.source);

/** Why the store cannot hold `s` as it is, or undefined when it can. */
export function unstorable(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains U+0000, which the store cannot hold';
  if (LONE_SURROGATE.test(s)) return 'contains half a surrogate pair (not Unicode text), which the store cannot hold';
  return undefined;
}
