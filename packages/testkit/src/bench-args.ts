// The benchmarks' flags: a mistyped or bad one ends the bench with one line
// naming it (exit 2), never a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Prints `bench: <message>` and exits 2 (a usage error). */
export function benchUsageError(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** The bench's flags, strictly: an unknown flag, a missing value or a stray argument is a usage error. */
export function benchFlags<O extends NonNullable<ParseArgsConfig['options']>>(options: O) {
  try {
    return parseArgs({ strict: true, options }).values;
  } catch (err) {
    return benchUsageError((err as Error).message);
  }
}

/** A whole number ≥ `min` given as `name` (a flag or a variable), `fallback` when not given. */
export function benchCount(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) benchUsageError(`${name}: must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}
