// The payment-method-types params of this API version (2026-10-28.endive), on
// PaymentIntents and SetupIntents. Since endive (2026-09-30) Stripe refuses the
// old `payment_method_types` param with 400 payment_method_types_no_longer_supported;
// `allowed_payment_method_types` restricts the list, and excludes
// `automatic_payment_methods` (https://docs.stripe.com/changelog/endive/2026-09-30/
// removes-the-payment-method-types-parameter-from-payment-intents-and-setup-intents;
// the stripe SDK 23.0.0 CHANGELOG). The object still shows `payment_method_types`.
import { z } from 'zod';
import { invalidRequest } from '../api/errors.ts';

/** The sandbox has card PaymentMethods only. */
export const allowedTypes = z.array(z.literal('card', { message: 'only card is supported' })).min(1);

/** The removed param, taken by the schema only to be refused with Stripe's own code. */
export const removedTypes = z.unknown();

export function refuseRemovedTypes(p: { payment_method_types?: unknown }): void {
  if (p.payment_method_types === undefined) return;
  throw invalidRequest(
    'The `payment_method_types` parameter is no longer supported on this API version. Use `allowed_payment_method_types` instead, or automatic payment methods.',
    { param: 'payment_method_types', code: 'payment_method_types_no_longer_supported' },
  );
}

/** The two fields the endive objects carry: the list given (or null when automatic), no exclusions. */
export function typesFields(allowed: string[] | null): {
  allowed_payment_method_types: string[] | null;
  excluded_payment_method_types: null;
} {
  return { allowed_payment_method_types: allowed, excluded_payment_method_types: null };
}
