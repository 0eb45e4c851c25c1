// `expand[]=latest_charge`, `expand[]=data.customer`: ids in a response
// replaced by their objects, as the SDK's callers ask Stripe to; a charge's
// `refunds`, absent unless asked for, by the list of them. The paths were
// checked before the route acted: their depth with the params (api/params.ts
// `expand`), each field's expandability against the object (expandable.ts), so
// nothing here refuses a path once an effect has happened.
import { getCharge } from '../resources/charges.ts';
import { getCustomer } from '../resources/customers.ts';
import { getPaymentIntent } from '../resources/payment-intents.ts';
import { getPaymentMethod } from '../resources/payment-methods.ts';
import { getRefund, refundsOfCharge } from '../resources/refunds.ts';
import { getSetupIntent } from '../resources/setup-intents.ts';
import type { Expansion, ListExpansion } from './expandable.ts';
import type { ListObject } from './lists.ts';
import type { Queryable } from '../store/transaction.ts';

type Loader = (q: Queryable, id: string) => Promise<object | undefined>;

const LOADERS: Record<string, Loader> = {
  cus: getCustomer,
  pm: getPaymentMethod,
  seti: getSetupIntent,
  pi: getPaymentIntent,
  ch: getCharge,
  re: getRefund,
};

/** Fields an object shows only when expanded, and how to load them. */
const EXPAND_ONLY: Record<string, Record<string, (q: Queryable, objectId: string) => Promise<object>>> = {
  charge: { refunds: refundsOfCharge },
};

async function expandPath(q: Queryable, obj: Record<string, unknown>, path: string[]): Promise<void> {
  const [field, ...rest] = path;
  if (field === undefined) return;
  const load = EXPAND_ONLY[String(obj.object)]?.[field];
  if (load) {
    obj[field] ??= await load(q, String(obj.id));
    const list = obj[field] as { data: Record<string, unknown>[] };
    // `refunds.data.x`: into each item.
    if (rest[0] === 'data' && rest.length > 1) for (const item of list.data) await expandPath(q, item, rest.slice(1));
    return;
  }
  // Absent on this object (a deleted customer has only its id): nothing to expand, as on Stripe.
  if (!(field in obj)) return;
  let value = obj[field];
  if (typeof value === 'string') {
    const loader = LOADERS[value.split('_')[0]!];
    value = (loader && (await loader(q, value))) ?? value;
    obj[field] = value;
  }
  if (rest.length > 0 && value && typeof value === 'object') await expandPath(q, value as Record<string, unknown>, rest);
}

export async function expandObject<T extends object>(q: Queryable, obj: T, paths: Expansion): Promise<T> {
  for (const path of paths) await expandPath(q, obj as Record<string, unknown>, path.split('.'));
  return obj;
}

/** On a list, paths start with `data.`. */
export async function expandList<T extends object>(q: Queryable, list: ListObject<T>, paths: ListExpansion): Promise<ListObject<T>> {
  for (const path of paths) {
    for (const item of list.data) await expandPath(q, item as Record<string, unknown>, path.split('.').slice(1));
  }
  return list;
}
