import type { z } from 'zod';

/** A 400 body naming each bad query parameter. */
export function queryError(error: z.ZodError): { error: string; fields: { field: string; message: string }[] } {
  const fields = error.issues.map((i) => ({
    field: i.path.join('.') || ('keys' in i ? (i.keys as string[]).join(',') : ''),
    message: i.message,
  }));
  return { error: `invalid query: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields };
}
