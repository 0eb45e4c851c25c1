import type { z } from 'zod';
import { missingIsRequired } from './config.ts';

/** A query string (or route parameters) against its schema: a missing one is `period: required`. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(input, { error: missingIsRequired });
}

/** A 400 body naming each bad query parameter (an unknown one by its own name). */
export function queryError(error: z.ZodError): { error: string; fields: { field: string; message: string }[] } {
  const fields = error.issues.map((i) => ({
    field: i.path.join('.') || ('keys' in i ? (i.keys as string[]).join(',') : ''),
    message: i.message,
  }));
  return { error: `invalid query: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields };
}
