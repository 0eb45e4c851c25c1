// zod pieces for form-encoded params: every value arrives as a string (or a
// nested object/array from bracket notation), so numbers and booleans are
// parsed here, with Stripe's rules ('' unsets, metadata limits).
import { z } from 'zod';
import { paramError } from './errors.ts';

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

/** Stripe's metadata: up to 50 keys of ≤ 40 characters, values ≤ 500; '' clears it all. */
export const metadata = z.union([
  z.literal('').transform(() => null),
  z
    .record(
      z.string().max(40, 'metadata keys must be at most 40 characters'),
      z.string().max(500, 'metadata values must be at most 500 characters'),
    )
    .refine((m) => Object.keys(m).length <= 50, 'metadata can have at most 50 keys'),
]);

/** `expand[0]=latest_charge`: paths of ids to replace by their objects. */
export const expand = z.array(z.string().max(200)).max(20).optional();

/** Stripe's metadata update: keys merge, a key set to '' is removed, '' clears all. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete next[k];
    else next[k] = v;
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
