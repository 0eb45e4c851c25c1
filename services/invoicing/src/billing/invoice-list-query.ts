// GET /v1/accounts/:id/invoices' optional window: without it the whole list, as api.md says.
import { z } from 'zod';
import { PeriodKey } from '@vault/contracts';

const LIMIT = 'must be a whole number from 1 to 1000';

/** `?before=YYYY-MM` (only months before it), `?limit=N` (at most N invoices, newest first); any other parameter is refused, by its name. */
export const InvoiceListQuery = z
  .object({
    before: PeriodKey.optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, { error: LIMIT })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 1000, { error: LIMIT })
      .optional(),
  })
  .strict();
export type InvoiceListQuery = z.infer<typeof InvoiceListQuery>;
