// What each object can expand, as Stripe's API reference (and the SDK's
// `string | Stripe.X` fields) has it, so an `expand[]` path is checked from the
// params alone, before a route acts: Stripe refuses "This property cannot be
// expanded" before creating or charging anything, and stores nothing under
// the Idempotency-Key. Only the fields the sandbox renders are listed.
import { invalidRequest } from './errors.ts';

export type ObjectKind =
  | 'payment_intent'
  | 'charge'
  | 'setup_intent'
  | 'payment_method'
  | 'customer'
  | 'refund'
  | 'dispute'
  | 'webhook_endpoint';

/**
 * A field's expansion: an object kind, a list of one (`data.` then its items),
 * a nested hash of fields (customer's invoice_settings), or null for an object
 * the sandbox never makes (always null here; expandable, but not beyond it).
 */
type Target = ObjectKind | { list: ObjectKind } | { nested: Fields } | null;
type Fields = Readonly<Record<string, Target>>;

const EXPANDABLE: Readonly<Record<ObjectKind, Fields>> = {
  payment_intent: {
    application: null,
    customer: 'customer',
    latest_charge: 'charge',
    on_behalf_of: null,
    payment_method: 'payment_method',
    review: null,
  },
  // Stripe's charge.payment_method is a plain id: not expandable.
  charge: {
    application: null,
    application_fee: null,
    balance_transaction: null,
    customer: 'customer',
    failure_balance_transaction: null,
    on_behalf_of: null,
    payment_intent: 'payment_intent',
    refunds: { list: 'refund' },
    review: null,
  },
  setup_intent: {
    application: null,
    customer: 'customer',
    latest_attempt: null,
    mandate: null,
    on_behalf_of: null,
    payment_method: 'payment_method',
    single_use_mandate: null,
  },
  payment_method: { customer: 'customer' },
  customer: {
    default_source: null,
    invoice_settings: { nested: { default_payment_method: 'payment_method' } },
    test_clock: null,
  },
  refund: {
    balance_transaction: null,
    charge: 'charge',
    payment_intent: 'payment_intent',
    source_transfer_reversal: null,
    transfer_reversal: null,
  },
  dispute: { charge: 'charge', payment_intent: 'payment_intent' },
  webhook_endpoint: {},
};

declare const checked: unique symbol;
/** Paths checked against an object's expandable fields (expandObject takes only these). */
export type Expansion = readonly string[] & { readonly [checked]: 'object' };
/** Paths checked against a list's items, each starting with `data.` (expandList takes only these). */
export type ListExpansion = readonly string[] & { readonly [checked]: 'list' };

const refused = (path: string) => invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });

/** Whether `rest` names expandable fields, one after another, from `fields`. */
function reachable(fields: Fields, rest: readonly string[]): boolean {
  const [field, ...more] = rest;
  if (field === undefined || !Object.hasOwn(fields, field)) return false;
  const target = fields[field]!;
  if (more.length === 0) return typeof target === 'string' || target === null || 'list' in target;
  if (target === null) return false;
  if (typeof target === 'string') return reachable(EXPANDABLE[target], more);
  if ('nested' in target) return reachable(target.nested, more);
  // A list: `refunds` alone, or `refunds.data.<field of a refund>`.
  return more[0] === 'data' && reachable(EXPANDABLE[target.list], more.slice(1));
}

/** The paths, if each is expandable on `kind`; else Stripe's 400 naming the first that is not. */
export function expansion(kind: ObjectKind, paths: readonly string[] | undefined): Expansion {
  for (const path of paths ?? []) if (!reachable(EXPANDABLE[kind], path.split('.'))) throw refused(path);
  return (paths ?? []) as Expansion;
}

/** As `expansion`, for a list of `kind`: each path is `data.` then one expandable on an item. */
export function listExpansion(kind: ObjectKind, paths: readonly string[] | undefined): ListExpansion {
  for (const path of paths ?? []) {
    const [first, ...rest] = path.split('.');
    if (first !== 'data' || !reachable(EXPANDABLE[kind], rest)) throw refused(path);
  }
  return (paths ?? []) as ListExpansion;
}
