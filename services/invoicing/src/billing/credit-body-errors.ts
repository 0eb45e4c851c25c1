// How the credit routes answer a body they cannot take: each field named.
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

/** A bad body names each field: `{error: "invalid body: amount: …", fields: [{field, message}]}`. */
export function bodyError(reply: FastifyReply, fields: FieldError[]) {
  return reply.code(400).send({ error: `invalid body: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields });
}

/** A body zod refused, each issue named by its field (an unknown key by its name). */
export const issuesOf = (error: z.ZodError): FieldError[] =>
  error.issues.map((i) => ({
    field: i.path.join('.') || ('keys' in i ? (i.keys as string[]).join(',') : 'body'),
    message: i.message,
  }));
