// zod pieces for form-encoded params: every value arrives as a string (or a
// nested object/array from bracket notation), so numbers and booleans are
// parsed here, with Stripe's rules ('' unsets, metadata limits).
import { z } from 'zod';
import { invalidRequest, paramError } from './errors.ts';

/** Parses params against a schema; a bad one is Stripe's 400 naming the param. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw paramError(result.error, input ?? {});
  return result.data;
}

export const formInt = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number),
]);

export const formBool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** A text field: '' means "none" (the SDK sends '' for null). */
export const text = z
  .string()
  .max(5000)
  .transform((v) => (v === '' ? null : v));

export const id = z.string().min(1).max(255);

/** Stripe's limits on metadata (https://docs.stripe.com/metadata): on the request, and on the object after a merge. */
const METADATA_KEYS = 50;

/** What is wrong with one metadata key or its value, if anything. */
function metadataEntryProblem(key: string, value: string): string | undefined {
  if (key.length > 40) return 'metadata keys must be at most 40 characters';
  if (/[[\]]/.test(key)) return 'metadata keys cannot contain square brackets';
  if (value.length > 500) return 'metadata values must be at most 500 characters';
  return undefined;
}

/**
 * Stripe's metadata: up to 50 keys of ≤ 40 characters without [ or ], values ≤ 500; '' clears it all.
 * Checked after the union (a refinement inside it would be reported as the union's bare "Invalid input"),
 * each problem at its key's path, so the error names `metadata[<key>]`.
 */
export const metadata = z.union([z.literal(''), z.record(z.string(), z.string())]).transform((m, ctx) => {
  if (m === '') return null;
  for (const [key, value] of Object.entries(m)) {
    const problem = metadataEntryProblem(key, value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
  }
  if (Object.keys(m).length > METADATA_KEYS) ctx.addIssue({ code: 'custom', message: `metadata can have at most ${METADATA_KEYS} keys` });
  return m;
});

/** Stripe's limit on an expansion's depth: `data.` of a list counts as a level. */
const EXPAND_LEVELS = 4;

/** `expand[0]=latest_charge`: paths of ids to replace by their objects, checked before anything runs. */
export const expand = z
  .array(z.string().max(200))
  .max(20)
  .refine((paths) => paths.every((path) => path.split('.').length <= EXPAND_LEVELS), {
    error: (issue) =>
      `You cannot expand more than ${EXPAND_LEVELS} levels of a property. Property: ${(issue.input as string[]).find((p) => p.split('.').length > EXPAND_LEVELS)}`,
  })
  .optional();

/**
 * Stripe's metadata update: keys merge, a key set to '' is removed, '' clears all. The
 * object may hold at most 50 keys after the merge: more is Stripe's 400 naming `metadata`.
 */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete next[k];
    else next[k] = v;
  }
  const count = Object.keys(next).length;
  if (count > METADATA_KEYS && count > Object.keys(current).length) {
    throw invalidRequest(
      `Invalid metadata: metadata can have at most ${METADATA_KEYS} keys; this update would leave the object with ${count}.`,
      { param: 'metadata', code: 'parameter_invalid' },
    );
  }
  return next;
}

/** Metadata on create: empty values are dropped. */
export function newMetadata(given: Record<string, string> | null | undefined): Record<string, string> {
  return mergeMetadata({}, given);
}

export const listParams = {
  limit: formInt.pipe(z.number().int().min(1, 'limit must be between 1 and 100').max(100, 'limit must be between 1 and 100')).optional(),
  starting_after: id.optional(),
  ending_before: id.optional(),
  expand,
};

/** Only `expand` (retrieve routes). */
export const RetrieveParams = z.object({ expand }).strict();
