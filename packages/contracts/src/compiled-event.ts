// The hot path's validator of billing events: zod's own compiler turns the
// BillingEvent schema into one generated function when this module loads, so
// the schema objects stay the only statement of the rules (a refinement is the
// very function the runtime parser calls). It answers yes or no only: a refusal
// is explained by the runtime parser (parse.ts), so reasons are zod's own.
// compiled-equivalence.test.ts holds it to the runtime parser's verdicts.
//
// `compileFn` rather than `z.compile`: a compiled schema's safeParse would run
// the runtime parser again on each refusal, which parse.ts does anyway, and
// would hide a wrong refusal of the fast path from the equivalence test.
import { compileFn, INVALID } from 'zod/v4/core';
import { BillingEvent } from './events.ts';

type Compiled = (input: unknown) => BillingEvent | typeof INVALID;

/** Undefined when zod cannot compile the schema: then the runtime parser alone judges (slower, same verdicts). */
export const compiledBillingEventParser: Compiled | undefined = tryCompile();

function tryCompile(): Compiled | undefined {
  try {
    return compileFn(BillingEvent);
  } catch {
    return undefined;
  }
}

/**
 * The event as `BillingEvent.parse` would return it (a fresh object, unknown
 * keys left out), or undefined where it would refuse the value.
 */
export function compiledBillingEvent(value: unknown): BillingEvent | undefined {
  if (compiledBillingEventParser === undefined) {
    const result = BillingEvent.safeParse(value);
    return result.success ? result.data : undefined;
  }
  const out = compiledBillingEventParser(value);
  return out === INVALID ? undefined : out;
}
