// A subject's token (the `k3j9x2m1q8` of `dyno-…` and `postgresql-misty-…`):
// a window sees only part of the platform, so a token must be unique without
// looking at the others, and the same in every window that holds its subject.
import { createHash } from 'node:crypto';

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Base36 digits taken from each 32-bit word of the digest: 36^6 < 2^32. */
const DIGITS_PER_WORD = 6;
/** SHA-256 has eight words. */
const MAX_LENGTH = 8 * DIGITS_PER_WORD;

/**
 * `length` base36 digits of SHA-256 of the subject's name (its platform's key
 * and where it is in the platform), six from each 32-bit word: 12 digits are
 * 62 bits. They used to be drawn from two streams seeded by hash32 of the
 * same name, which shared its 32-bit FNV state: two names reaching one state
 * (and every name extending them) gave one token, so two apps' dynos shared
 * a subject, or `vault simulate` failed with "goes back in time".
 */
export function subjectToken(key: string, length: number, parts: readonly (string | number)[]): string {
  if (!Number.isInteger(length) || length < 1 || length > MAX_LENGTH)
    throw new RangeError(`subjectToken: length must be 1 to ${MAX_LENGTH}`);
  // JSON, not a join: no two lists of parts give one name.
  const digest = createHash('sha256')
    .update(JSON.stringify([key, ...parts]))
    .digest();
  let out = '';
  let word = 0;
  for (let i = 0; i < length; i++) {
    if (i % DIGITS_PER_WORD === 0) word = digest.readUInt32BE((i / DIGITS_PER_WORD) * 4);
    out += BASE36[word % 36];
    word = Math.floor(word / 36);
  }
  return out;
}
