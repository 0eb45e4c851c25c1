import type { z } from 'zod';
import { missingIsRequired } from './config.ts';

/** A query string (or route parameters) against its schema: a missing one is `period: required`. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(input, { error: missingIsRequired });
}

export type FieldProblem = { field: string; message: string };

/** A 400 body naming each bad field of `where` (query, path, body): `{error: "invalid query: period: …", fields}`. */
export function fieldsError(where: string, fields: FieldProblem[]): { error: string; fields: FieldProblem[] } {
  return { error: `invalid ${where}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields };
}

/** A 400 body naming each bad query parameter (an unknown one by its own name). */
export function queryError(error: z.ZodError): { error: string; fields: FieldProblem[] } {
  const fields = error.issues.map((i) => ({
    field: i.path.join('.') || ('keys' in i ? (i.keys as string[]).join(',') : ''),
    message: i.message,
  }));
  return fieldsError('query', fields);
}
