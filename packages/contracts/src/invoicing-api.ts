// The price book file and the bodies of invoicing's HTTP API
// (the platform spec's api.md; the billing rules: docs/contracts/invoicing.md). Money and quantities are decimal
// strings at every boundary, never JSON numbers.
import { z } from 'zod';
import { SLUG_PATTERN } from './events.ts';

/** "25.00": a non-negative amount in the currency's units, with cents. */
export const MoneyString = z.string().regex(/^\d+\.\d{2}$/, { error: 'must be a decimal string with two decimals, e.g. "25.00"' });
/** "-3.61" or "3.61": an adjustment can be a credit. */
export const SignedMoneyString = z.string().regex(/^-?\d+\.\d{2}$/, { error: 'must be a decimal string with two decimals' });
/** "0.3225806": months with seven decimals. */
export const QuantityString = z.string().regex(/^-?\d+\.\d{7}$/, { error: 'must be a decimal string with seven decimals' });
/**
 * "2026-10": a calendar month; the groups are the year and the month. Year
 * 0000 is refused: PostgreSQL has no year zero, so its dates fail mid-query.
 */
export const PERIOD_KEY_PATTERN = /^(?!0000)(\d{4})-(0[1-9]|1[0-2])$/;
export const PeriodKey = z.string().regex(PERIOD_KEY_PATTERN, { error: 'must be a month as YYYY-MM, from 0001-01' });

// Sizes, services and plans are the events' slugs.
const slug = SLUG_PATTERN.source.slice(1, -1);
/** A product of the price book: `dyno:<size>` or `addon:<service>:<plan>`. */
export const ProductKey = z.string().regex(new RegExp(`^(dyno:${slug}|addon:${slug}:${slug})$`), {
  error: 'must be dyno:<size> or addon:<service>:<plan>',
});

/** `price-book.json`: the monthly price of each product. */
export const PriceBook = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as "USD"' }),
  products: z.record(ProductKey, MoneyString),
});
export type PriceBook = z.infer<typeof PriceBook>;

/** `carried`: a total below the gateway's minimum, carried from an earlier invoice (key: its number). */
export const LineKind = z.enum(['dyno', 'addon', 'adjustment', 'carried']);
export type LineKind = z.infer<typeof LineKind>;

export const InvoiceLine = z.object({
  app_id: z.string(),
  kind: LineKind,
  /** The dyno name or the add-on id. */
  key: z.string(),
  product: z.string(),
  quantity: QuantityString,
  /** Null for a product the price book has no price for (the invoice is then held). */
  unit_price: MoneyString.nullable(),
  amount: SignedMoneyString.nullable(),
  description: z.string(),
  /** On adjustment lines: the finalized month they correct; on a carried line, the month it comes from. */
  adjusts: PeriodKey.optional(),
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

/**
 * `refunded`: paid, then refunded whole through the gateway. `carried`: a total
 * below the gateway's minimum charge, carried onto a later invoice as a line.
 * `action_required`: the charge waits for the cardholder to authenticate (3-D Secure).
 */
export const InvoiceStatus = z.enum(['draft', 'finalized', 'paid', 'past_due', 'refunded', 'carried', 'action_required']);
export type InvoiceStatus = z.infer<typeof InvoiceStatus>;

/** Why an account's month is not finalized (docs/contracts/invoicing.md, Postconditions: holds). */
export const HoldReason = z.enum(['gap', 'unpriced', 'unowned']);
export const Hold = z.object({
  reason: HoldReason,
  app_id: z.string(),
  /** What to look at: the subject with the sequence hole, the unpriced product, the unowned time. */
  detail: z.string(),
});
export type Hold = z.infer<typeof Hold>;

export const Invoice = z.object({
  id: z.string(),
  /** "2026-10-000123"; null on a draft. */
  number: z.string().nullable(),
  account_id: z.string(),
  period: PeriodKey,
  status: InvoiceStatus,
  currency: z.string(),
  /** The sum of the lines' amounts; below zero when a late credit outweighs the month. */
  subtotal: SignedMoneyString,
  /** What the account's credit balance pays of the subtotal (a draft: what it would pay now). */
  credit_applied: MoneyString,
  /** subtotal − credit_applied, what is charged; never negative (a negative subtotal gives 0.00 and a credit). */
  total: MoneyString,
  /** What the gateway refunded of the total. */
  amount_refunded: MoneyString,
  /**
   * What chargebacks took back of the payment and did not give back (the cardholder's bank
   * disputed it: withdrawn, not reinstated); "0.00" when none. Beyond api.md: the status stays.
   */
  amount_disputed: MoneyString,
  lines: z.array(InvoiceLine),
  holds: z.array(Hold),
});
export type Invoice = z.infer<typeof Invoice>;

export const InvoiceList = z.object({ invoices: z.array(Invoice) });

/** `GET /v1/holds`: one entry per held account; account_id null for usage no account owns. */
export const HeldAccount = z.object({ account_id: z.string().nullable(), period: PeriodKey, holds: z.array(Hold) });
export const HoldList = z.object({ period: PeriodKey, held: z.array(HeldAccount) });
export type HoldList = z.infer<typeof HoldList>;

export const PeriodQuery = z.object({ period: PeriodKey.optional() }).strict();
export const RequiredPeriodQuery = z.object({ period: PeriodKey }).strict();

/** `GET /v1/accounts/:account_id/balance`: what the Vault owes the account, used by its next invoices. */
export const CreditBalance = z.object({
  account_id: z.string(),
  currency: z.string(),
  credit: MoneyString,
});
export type CreditBalance = z.infer<typeof CreditBalance>;

/** An operator's grant id: the idempotency key of `POST /v1/accounts/:account_id/credits`. */
export const CreditGrantId = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(128, { error: 'must be at most 128 characters' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, { error: 'must be letters, digits and . _ : - (starting with a letter or digit)' });

/** `POST /v1/accounts/:account_id/credits`'s body (admin). */
export const CreditGrantRequest = z
  .object({
    id: CreditGrantId,
    amount: z
      .string({ error: 'must be a decimal string such as "10.00"' })
      .regex(/^\d{1,10}\.\d{2}$/, { error: 'must be a decimal string with two decimals, e.g. "10.00", at most 9999999999.99' })
      .refine((a) => /[1-9]/.test(a), { error: 'must be more than 0.00' }),
    reason: z
      .string({ error: 'required: why the credit is granted' })
      .trim()
      .min(1, { error: 'required: why the credit is granted' })
      .max(500, { error: 'must be at most 500 characters' }),
    expires_at: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 instant such as "2027-01-01T00:00:00Z"' }).optional(),
    /** True: the account may be one invoicing has never seen (no app owned, no invoice, no credit); else such a grant is 422. */
    new_account: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type CreditGrantRequest = z.infer<typeof CreditGrantRequest>;

/** A grant as recorded: the answer of `POST /v1/accounts/:account_id/credits`. */
export const CreditGrant = z.object({
  id: z.string(),
  account_id: z.string(),
  amount: MoneyString,
  currency: z.string(),
  reason: z.string(),
  expires_at: z.string().nullable(),
  granted_at: z.string(),
});
export type CreditGrant = z.infer<typeof CreditGrant>;

/** `POST /v1/accounts/:account_id/credits/:credit_id/reverse`'s body (admin): without `amount`, all that is left of the grant. */
export const CreditReversalRequest = z
  .object({
    amount: CreditGrantRequest.shape.amount.optional(),
    reason: z
      .string({ error: 'required: why the grant is reversed' })
      .trim()
      .min(1, { error: 'required: why the grant is reversed' })
      .max(500, { error: 'must be at most 500 characters' }),
  })
  .strict();
export type CreditReversalRequest = z.infer<typeof CreditReversalRequest>;

/** A grant's reversal as recorded: what was taken back of it (a positive amount), once per grant. */
export const CreditReversal = z.object({
  credit_id: z.string(),
  account_id: z.string(),
  amount: MoneyString,
  currency: z.string(),
  reason: z.string(),
  reversed_at: z.string(),
  /** The grant's own amount, for the reader: what was granted before any of it was used or reversed. */
  granted: MoneyString,
});
export type CreditReversal = z.infer<typeof CreditReversal>;

/**
 * api.md "Notices": the types of notice invoicing publishes. The last two go
 * beyond api.md's list (an extension: a consumer ignores types it does not
 * know): `invoice.carried`, a small total carried onto the account's next
 * invoice, and `invoice.refunded`, an invoice refunded whole (docs/contracts/invoicing.md).
 */
export const NoticeType = z.enum([
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.action_required',
  'invoice.past_due',
  'account.suspended',
  'account.reinstated',
  'invoice.carried',
  'invoice.refunded',
]);

/** A notice: a CloudEvents 1.0 event in structured JSON, `source` `vault-invoicing`. */
export const Notice = z.object({
  specversion: z.literal('1.0'),
  /** Stable: a replay carries the same id (and the same body). */
  id: z.string().min(1),
  source: z.literal('vault-invoicing'),
  type: NoticeType,
  /** The invoice id, or the account id for account types. */
  subject: z.string(),
  time: z.iso.datetime(),
  datacontenttype: z.literal('application/json'),
  data: z
    .object({
      account_id: z.string(),
      /** Invoice types: the invoice and what it stands at once the change is made. */
      invoice_id: z.string().optional(),
      number: z.string().optional(),
      period: PeriodKey.optional(),
      total: MoneyString.optional(),
      currency: z.string().optional(),
      status: InvoiceStatus.optional(),
    })
    .catchall(z.unknown()),
});
export type Notice = z.infer<typeof Notice>;

/** `GET /v1/notices`'s answer: oldest first; `next_after` is the cursor for the next page, null when this one is empty. */
export const NoticeList = z.object({ notices: z.array(Notice), next_after: z.string().nullable() });

/** `GET /v1/notices?after=CURSOR&limit=N`: a cursor given as `next_after` (or 0, the start), 1 to 1000 (100). */
export const NoticeQuery = z
  .object({
    after: z
      .string()
      .regex(/^(0|[1-9]\d{0,17})$/, { error: 'must be a cursor given as next_after by an earlier page (or 0)' })
      .default('0'),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, { error: 'must be a whole number from 1 to 1000' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 1000, { error: 'must be a whole number from 1 to 1000' })
      .default(100),
  })
  .strict();

/** `GET /v1/accounts/:account_id` (admin): the account's standing and billing contact. */
export const AccountStanding = z.object({
  account_id: z.string(),
  /** Suspended while an invoice of it is past due longer than SUSPEND_PAST_DUE_AFTER. */
  standing: z.enum(['active', 'suspended']),
  suspended_at: z.string().nullable(),
  reinstated_at: z.string().nullable(),
  /** Its invoices past due now, oldest first, with when each became past due; none the next finalize carries (`to_carry`). */
  past_due: z.array(z.object({ invoice_id: z.string(), number: z.string(), total: MoneyString, since: z.string().nullable() })),
  /**
   * Owed invoices the next finalize carries onto its next invoice (above 0, below the gateway's
   * minimum, never charged): never charged, so never past due for its standing; `since` is when
   * one an older release (or a raised minimum) left `past_due` became so, else null.
   */
  to_carry: z.array(z.object({ invoice_id: z.string(), number: z.string(), total: MoneyString, since: z.string().nullable() })),
  email: z.string().nullable(),
});
export type AccountStanding = z.infer<typeof AccountStanding>;

// One plain addr-spec (dot-atom@domain), letters of any script allowed. Mailers read
// a list or a display name out of `,` `;` `:` `<>` `()` quotes and spaces: `a,b@x.com`
// went to b@x.com only, `x<victim@y.com>` to victim.
const ATOM = String.raw`[\p{L}\p{M}\p{N}!#$%&'*+/=?^_\u0060{|}~-]+`; // \u0060: a backquote
const LABEL = String.raw`[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?`;
/** An email address as a contact may hold: one plain `local@domain`, nothing a mailer reads as a list or a name. */
export const PLAIN_EMAIL_ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@${LABEL}(?:\\.${LABEL})*$`, 'u');

/** `PUT /v1/accounts/:account_id/contact` (admin): where the account's billing emails go. */
export const AccountContactRequest = z
  .object({
    email: z
      .string({ error: 'required: an email address' })
      .trim()
      .max(254, { error: 'must be at most 254 characters' })
      .regex(PLAIN_EMAIL_ADDRESS, { error: 'must be one plain email address such as billing@example.com' }),
  })
  .strict();
