// Customers: POST/GET /v1/customers, GET/POST/DELETE /v1/customers/:id.
// A deleted customer's row stays (intents and charges refer to it): its id
// answers `{deleted: true}` as Stripe's does, and nothing new may use it.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest, noSuch } from '../api/errors.ts';
import { expandObject, expandList } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { expand, listParams, mergeMetadata, metadata, newMetadata, parseParams, RetrieveParams, text } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import type { Queryable, Tx } from '../store/transaction.ts';
import { paymentMethods } from './payment-methods.ts';

export interface CustomerRow {
  id: string;
  created: string;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  default_payment_method: string | null;
  deleted: boolean;
}

export function renderCustomer(r: CustomerRow) {
  return {
    id: r.id,
    object: 'customer' as const,
    address: null,
    balance: 0,
    created: Number(r.created),
    currency: null,
    default_source: null,
    delinquent: false,
    description: r.description,
    discount: null,
    email: r.email,
    invoice_prefix: r.id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: r.default_payment_method, footer: null, rendering_options: null },
    livemode: false,
    metadata: r.metadata,
    name: r.name,
    next_invoice_sequence: 1,
    phone: r.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export const customers = rowsById<CustomerRow>('customers', 'customer');

/** What Stripe answers for a deleted customer's id. */
const deletedCustomer = (customerId: string) => ({ id: customerId, object: 'customer' as const, deleted: true as const });

export async function getCustomer(q: Queryable, customerId: string) {
  const row = await customers.find(q, customerId);
  if (!row) return undefined;
  return row.deleted ? deletedCustomer(row.id) : renderCustomer(row);
}

/** A customer that exists and was not deleted, or Stripe's "No such customer" naming `param`. */
export async function liveCustomer(q: Queryable, customerId: string, param = 'id', forUpdate = false): Promise<CustomerRow> {
  const row = await customers.require(q, customerId, param, forUpdate);
  if (row.deleted) throw noSuch('customer', customerId, param);
  return row;
}

/**
 * An intent's customer at confirmation: deleted is Stripe's "No such customer"
 * (param `customer`). FOR SHARE: confirmations of one customer run side by side,
 * a customers.del waits for them (and they for it).
 */
export async function liveCustomerShared(q: Queryable, customerId: string): Promise<void> {
  const { rows } = await q.query<{ deleted: boolean }>('select deleted from gateway_sandbox.customers where id = $1 for share', [
    customerId,
  ]);
  if (!rows[0] || rows[0].deleted) throw noSuch('customer', customerId, 'customer');
}

const CustomerFields = {
  email: text.optional(),
  name: text.optional(),
  description: text.optional(),
  phone: text.optional(),
  metadata: metadata.optional(),
  expand,
};

const CreateCustomer = z.object(CustomerFields).strict();

/**
 * Stripe refuses a malformed customer email with its own code (email_invalid, in the SDK's
 * list), not parameter_invalid; checked with the params, so nothing is stored under the key.
 */
function refuseInvalidEmail(p: { email?: string | null | undefined }): void {
  if (p.email === undefined || p.email === null) return;
  if (p.email.length <= 512 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(p.email)) return;
  throw invalidRequest(`Invalid email address: ${p.email}`, { param: 'email', code: 'email_invalid' });
}

const UpdateCustomer = z
  .object({
    ...CustomerFields,
    invoice_settings: z.object({ default_payment_method: text.optional() }).strict().optional(),
  })
  .strict();

const ListCustomers = z.object({ ...listParams, email: z.string().optional() }).strict();

async function createCustomer(tx: Tx, p: z.infer<typeof CreateCustomer>) {
  const { rows } = await tx.q.query<CustomerRow>(
    `insert into gateway_sandbox.customers (id, created, email, name, description, phone, metadata)
     values ($1, $2, $3, $4, $5, $6, $7) returning *`,
    [
      newId('cus'),
      tx.now,
      p.email ?? null,
      p.name ?? null,
      p.description ?? null,
      p.phone ?? null,
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  const customer = renderCustomer(rows[0]!);
  await tx.emit('customer.created', customer);
  return customer;
}

async function updateCustomer(tx: Tx, customerId: string, p: z.infer<typeof UpdateCustomer>) {
  const before = await liveCustomer(tx.q, customerId, 'id', true);
  let defaultPm = before.default_payment_method;
  const wanted = p.invoice_settings?.default_payment_method;
  if (wanted !== undefined) {
    if (wanted !== null) {
      const pm = await paymentMethods.require(tx.q, wanted, 'invoice_settings[default_payment_method]');
      if (pm.customer !== customerId) {
        throw invalidRequest(
          `The customer does not have a payment method with the ID ${wanted}. The payment method must be attached to the customer.`,
          { param: 'invoice_settings[default_payment_method]', code: 'resource_missing' },
        );
      }
    }
    defaultPm = wanted;
  }
  const pick = <T>(v: T | undefined, old: T) => (v === undefined ? old : v);
  const { rows } = await tx.q.query<CustomerRow>(
    `update gateway_sandbox.customers
        set email = $2, name = $3, description = $4, phone = $5, metadata = $6, default_payment_method = $7
      where id = $1 returning *`,
    [
      customerId,
      pick(p.email, before.email),
      pick(p.name, before.name),
      pick(p.description, before.description),
      pick(p.phone, before.phone),
      JSON.stringify(mergeMetadata(before.metadata, p.metadata)),
      defaultPm,
    ],
  );
  const customer = renderCustomer(rows[0]!);
  const previous = changedAttributes(renderCustomer(before), customer);
  if (Object.keys(previous).length > 0) await tx.emit('customer.updated', customer, previous);
  return customer;
}

/** A list's filters, deleted customers left out. */
function withDeleted(filters: { where: string[]; args: unknown[] }) {
  return { where: [...filters.where, 'not deleted'], args: filters.args };
}

/** `previous_attributes` of an update event: the old values of the top-level fields that changed. */
function changedAttributes(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(before)) {
    if (JSON.stringify(v) !== JSON.stringify(after[k])) changed[k] = v;
  }
  return changed;
}

/**
 * Deletes a customer: its cards are detached (and, detached, may never be used
 * again, as on Stripe), and its id answers `{deleted: true}` from now on.
 */
async function deleteCustomer(tx: Tx, customerId: string) {
  const row = await liveCustomer(tx.q, customerId, 'id', true);
  await tx.q.query('update gateway_sandbox.payment_methods set customer = null, consumed = true where customer = $1', [row.id]);
  const { rows } = await tx.q.query<CustomerRow>(
    'update gateway_sandbox.customers set deleted = true, default_payment_method = null where id = $1 returning *',
    [row.id],
  );
  await tx.emit('customer.deleted', renderCustomer(rows[0]!));
  return deletedCustomer(row.id);
}

export function customerRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/customers', async (req, reply) => {
    const p = parseParams(CreateCustomer, req.body);
    const toExpand = expansion('customer', p.expand);
    refuseInvalidEmail(p);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createCustomer(tx, p), toExpand));
  });

  http.get<{ Params: { id: string } }>('/v1/customers/:id', async (req) => {
    const p = parseParams(RetrieveParams, req.query);
    const toExpand = expansion('customer', p.expand);
    const row = await customers.require(deps.pool, req.params.id);
    if (row.deleted) return deletedCustomer(row.id);
    return expandObject(deps.pool, renderCustomer(row), toExpand);
  });

  http.delete<{ Params: { id: string } }>('/v1/customers/:id', async (req, reply) => {
    parseParams(z.object({}).strict(), req.body ?? req.query);
    return mutate(deps, req, reply, (tx) => deleteCustomer(tx, req.params.id));
  });

  http.post<{ Params: { id: string } }>('/v1/customers/:id', async (req, reply) => {
    const p = parseParams(UpdateCustomer, req.body);
    const toExpand = expansion('customer', p.expand);
    refuseInvalidEmail(p);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await updateCustomer(tx, req.params.id, p), toExpand));
  });

  http.get('/v1/customers', async (req) => {
    const p = parseParams(ListCustomers, req.query);
    const toExpand = listExpansion('customer', p.expand);
    const page = await listPage<CustomerRow>(
      deps.pool,
      {
        table: 'customers',
        kind: 'customer',
        ...withDeleted(equalTo({ email: p.email })),
        url: '/v1/customers',
        render: renderCustomer,
      },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });
}
