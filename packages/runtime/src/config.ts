import { z } from 'zod';

/** Every bad variable, by name, in one error: fix them all in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super('invalid configuration: ' + problems.map((p) => `${p.variable}: ${p.message}`).join('; '));
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset, as in `.env` files with `NAME=`. */
export const blankToUndefined = (v: unknown) => (v === '' ? undefined : v);

export const optionalString = z.preprocess(blankToUndefined, z.string().optional());

export const stringWithDefault = (fallback: string) => z.preprocess(blankToUndefined, z.string().min(1).default(fallback));

/** Spaces around a value are dropped; nothing left is unset. */
const trimmedOrUnset = (v: unknown) => (typeof v === 'string' ? v.trim() || undefined : v);

/**
 * A number as people write one: digits with an optional decimal point (5, 0.5,
 * .5, 5.), or a minus sign before them.
 * z.coerce.number() read `' '` as 0 (INVOICE_GRACE_HOURS=' ' was no grace at
 * all), and took `0x48` and `1e2`.
 */
const decimalText = () =>
  z
    .string()
    // A sign is the rule's to judge (-1 is "too small", not "not a number").
    .regex(/^-?(\d+(\.\d*)?|\.\d+)$/, 'must be a number')
    .transform(Number);

/** A number variable checked by `rule`; `fallback` when unset or blank. */
export const numberVariable = (rule: z.ZodNumber, fallback: number) =>
  z.preprocess(trimmedOrUnset, decimalText().pipe(rule).default(fallback));

/** A number variable checked by `rule`; undefined when unset or blank. */
export const optionalNumberVariable = (rule: z.ZodNumber) => z.preprocess(trimmedOrUnset, decimalText().pipe(rule).optional());

/** A whole number variable within [min, max]; `fallback` when unset. */
export const integerVariable = (fallback: number, min: number, max: number) => numberVariable(z.number().int().min(min).max(max), fallback);

export const port = (fallback: number) => integerVariable(fallback, 1, 65535);

export const positiveNumber = (fallback: number) => numberVariable(z.number().positive(), fallback);

export const nonNegativeNumber = (fallback: number) => numberVariable(z.number().min(0), fallback);

/** setTimeout's longest wait, in whole seconds: Node runs a longer one after 1 ms. */
export const MAX_TIMER_SECONDS = 2_147_483;

/**
 * How often a loop runs, in seconds: at least `floor` (each loop names its own: CHARGE_EVERY_SECONDS=0.000001
 * polled the gateway back to back), and no longer than a timer can wait.
 */
export const loopSeconds = (fallback: number, floor: number) =>
  numberVariable(
    z
      .number()
      .min(floor, `must be at least ${floor} (seconds)`)
      .max(MAX_TIMER_SECONDS, `must be at most ${MAX_TIMER_SECONDS} (about 24.8 days)`),
    fallback,
  );

/**
 * zod's message for a missing value is "expected string, received undefined";
 * ours is "required". Passed to every parse of outside input (the environment,
 * query strings): a schema's own messages still win.
 */
export const missingIsRequired: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'required';
  // A coerced number that is not one arrives as NaN: zod's "received NaN" names nothing the user wrote.
  return issue.expected === 'number' ? 'must be a number' : undefined;
};

/** Parses the environment once, at boot, against an app's schema. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env, { error: missingIsRequired });
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: issue.path.join('.') || '(environment)',
      message: issue.message,
    })),
  );
}
