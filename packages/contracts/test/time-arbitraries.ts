// fast-check arbitraries of the contract's `time`, shared by contracts' own time
// tests and metering's (which read the same `time` for its content hash).
import fc from 'fast-check';
import { Timestamp } from '../src/index.ts';

const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
/** Every form of `time` the contract accepts: years 0000–9999, any fraction length that fits, any offset. */
export const contractTime = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
    month: two(12).filter((m) => m !== '00'),
    day: two(31).filter((d) => d !== '00'),
    hour: two(23),
    minute: two(59),
    second: two(59),
    fraction: fc.option(fc.stringMatching(/^\d{1,20}$/), { nil: undefined }),
    offset: fc.oneof(
      fc.constantFrom('Z', '+00:00', '-00:00'),
      fc.tuple(fc.constantFrom('+', '-'), two(23), two(59)).map(([s, h, m]) => `${s}${h}:${m}`),
    ),
  })
  .map((t) => `${t.year}-${t.month}-${t.day}T${t.hour}:${t.minute}:${t.second}${t.fraction ? `.${t.fraction}` : ''}${t.offset}`)
  .filter((t) => Timestamp.safeParse(t).success);
