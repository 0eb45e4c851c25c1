// The PaymentIntent routes' params, as Stripe names and checks them (form
// encoding: numbers and booleans arrive as strings).
import { z } from 'zod';
import { expand, formBool, formInt, id, listParams, metadata, text } from '../api/params.ts';
import { currencyAmountProblem, PRESENTMENT_CURRENCIES } from '../domain/currencies.ts';
import { allowedTypes, removedTypes } from './payment-method-types.ts';

const offSession = z.union([formBool, z.enum(['one_off', 'recurring']).transform(() => true)]);

const returnUrl = z.string().refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), 'must be an absolute http(s) URL');

/** Where Stripe sends the receipt ('' unsets it). */
const receiptEmail = text.refine((v) => v === null || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v), 'must be an email address');

/** Stripe's rules for the suffix: at most 22 characters, one letter at least, none of < > \ ' " *. */
const descriptorSuffix = text.refine(
  (v) => v === null || (v.length <= 22 && /[A-Za-z]/.test(v) && !/[<>\\'"*]/.test(v)),
  'must be at most 22 characters, with at least one letter and none of < > \\ \' " *',
);

/** A PaymentIntent's amount in minor units, on create and update. */
const amount = formInt.pipe(
  z.number().int().min(1, 'amount must be a positive integer').max(99_999_999, 'amount must be at most 99999999'),
);

/** One of Stripe's presentment currencies, lower-cased. */
const currency = z
  .string()
  .transform((c) => c.toLowerCase())
  .pipe(
    z.string().refine((c) => PRESENTMENT_CURRENCIES.has(c), {
      // Read after "Invalid currency: ", as Stripe words it.
      error: (issue) => `${String(issue.input)}. Stripe currently supports these currencies: ${[...PRESENTMENT_CURRENCIES].join(', ')}`,
    }),
  );

export const CreatePaymentIntent = z
  .object({
    amount,
    currency,
    customer: id.optional(),
    payment_method: id.optional(),
    // Refused (payment-method-types.ts); this API version's name is allowed_payment_method_types.
    payment_method_types: removedTypes.optional(),
    allowed_payment_method_types: allowedTypes.optional(),
    off_session: offSession.optional(),
    confirm: formBool.optional(),
    description: text.optional(),
    metadata: metadata.optional(),
    receipt_email: receiptEmail.optional(),
    statement_descriptor_suffix: descriptorSuffix.optional(),
    setup_future_usage: z.enum(['on_session', 'off_session']).optional(),
    capture_method: z.literal('automatic', { message: 'only automatic capture is supported' }).optional(),
    return_url: returnUrl.optional(),
    error_on_requires_action: formBool.optional(),
    use_stripe_sdk: formBool.optional(),
    automatic_payment_methods: z
      .object({ enabled: formBool, allow_redirects: z.enum(['always', 'never']).optional() })
      .strict()
      .optional(),
    expand,
  })
  .strict()
  .superRefine((p, ctx) => {
    const problem = currencyAmountProblem(p.amount, p.currency);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['amount'] });
  });

/** Stripe's answer to a server-side confirmation that could redirect the customer with nowhere to come back to. */
export const RETURN_URL_REQUIRED =
  'A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.';

export const ConfirmPaymentIntent = z
  .object({
    payment_method: id.optional(),
    payment_method_types: removedTypes.optional(),
    allowed_payment_method_types: allowedTypes.optional(),
    off_session: offSession.optional(),
    return_url: returnUrl.optional(),
    error_on_requires_action: formBool.optional(),
    receipt_email: receiptEmail.optional(),
    // Sent by Stripe.js: the client secret, and that it handles the next action itself.
    client_secret: z.string().optional(),
    use_stripe_sdk: formBool.optional(),
    payment_user_agent: z.string().optional(),
    expand,
  })
  .strict();

/** An update's setup_future_usage: '' unsets it (the SDK's empty value). */
const futureUsage = z.enum(['on_session', 'off_session', '']).transform((v) => (v === '' ? null : v));

/** amount, currency, payment_method, customer and setup_future_usage only while unconfirmed (payment-intent-changes.ts). */
export const UpdatePaymentIntent = z
  .object({
    amount: amount.optional(),
    currency: currency.optional(),
    payment_method: id.optional(),
    customer: id.optional(),
    setup_future_usage: futureUsage.optional(),
    payment_method_types: removedTypes.optional(),
    allowed_payment_method_types: allowedTypes.optional(),
    description: text.optional(),
    metadata: metadata.optional(),
    receipt_email: receiptEmail.optional(),
    statement_descriptor_suffix: descriptorSuffix.optional(),
    expand,
  })
  .strict();

/** Capture's params, parsed only to name an unknown one: capture is automatic, so every capture is refused. */
export const CapturePaymentIntent = z
  .object({
    amount_to_capture: formInt.optional(),
    final_capture: formBool.optional(),
    metadata: metadata.optional(),
    statement_descriptor_suffix: descriptorSuffix.optional(),
    expand,
  })
  .strict();

export const CancelPaymentIntent = z
  .object({
    cancellation_reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']).optional(),
    expand,
  })
  .strict();

export const ListPaymentIntents = z.object({ ...listParams, customer: id.optional() }).strict();
