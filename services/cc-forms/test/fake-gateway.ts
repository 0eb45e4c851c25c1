// An in-memory stand-in for the gateway's server API, for cc-forms' own tests:
// enough to open setup intents, confirm them as the browser would, and see
// what cc-forms asked for. The SDK side (idempotency keys, parameters) is
// checked by gateway.test.ts; the browser test uses the real sandbox.
import { randomBytes } from 'node:crypto';
import {
  GatewayUnavailable,
  type CardGateway,
  type PaymentIntentSeen,
  type PaymentMethodSeen,
  type SetupIntentSeen,
} from '../src/cards/gateway.ts';

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export interface FakeGateway extends CardGateway {
  customers: Map<string, { id: string; accountId: string; defaultPaymentMethod?: string }>;
  setupIntents: Map<string, SetupIntentSeen & { clientSecret: string }>;
  paymentMethods: Map<string, PaymentMethodSeen>;
  /** Invoices' PaymentIntents, as invoicing's charger would have made them. */
  paymentIntents: Map<string, PaymentIntentSeen>;
  /** The account of each createCustomer call, in order. */
  customerCalls: string[];
  /** Each detach call's payment method, in order. */
  detached: string[];
  /** What the browser's confirmCardSetup would do with a working card. */
  confirm(
    setupIntentId: string,
    card?: { brand?: string; last4?: string; expMonth?: number; expYear?: number; fingerprint?: string },
  ): string;
  /** Every call fails as if the gateway were down. */
  down: boolean;
}

export function fakeGateway(): FakeGateway {
  const fake: FakeGateway = {
    customers: new Map(),
    setupIntents: new Map(),
    paymentMethods: new Map(),
    paymentIntents: new Map(),
    customerCalls: [],
    detached: [],
    down: false,
    async createCustomer(accountId) {
      check();
      fake.customerCalls.push(accountId);
      // Idempotent as the real gateway under the account's stored key: the same account, the same customer.
      const existing = [...fake.customers.values()].find((c) => c.accountId === accountId);
      if (existing) return existing.id;
      const customer = { id: id('cus'), accountId };
      fake.customers.set(customer.id, customer);
      return customer.id;
    },
    async createSetupIntent(customerId) {
      check();
      const si = { id: id('seti'), status: 'requires_payment_method', customerId, paymentMethodId: undefined, clientSecret: '' };
      si.clientSecret = `${si.id}_secret_${randomBytes(8).toString('hex')}`;
      fake.setupIntents.set(si.id, si);
      return { id: si.id, clientSecret: si.clientSecret };
    },
    async setupIntent(siId) {
      check();
      const si = fake.setupIntents.get(siId);
      return si && { id: si.id, status: si.status, customerId: si.customerId, paymentMethodId: si.paymentMethodId };
    },
    async paymentMethod(pmId) {
      check();
      return fake.paymentMethods.get(pmId);
    },
    async makeDefault(customerId, paymentMethodId) {
      check();
      fake.customers.get(customerId)!.defaultPaymentMethod = paymentMethodId;
    },
    async detach(pmId) {
      check();
      fake.detached.push(pmId);
      const pm = fake.paymentMethods.get(pmId);
      if (pm) pm.customerId = undefined;
    },
    async paymentIntent(piId) {
      check();
      return fake.paymentIntents.get(piId);
    },
    confirm(siId, card = {}) {
      const si = fake.setupIntents.get(siId)!;
      const pm: PaymentMethodSeen = {
        id: id('pm'),
        customerId: si.customerId,
        brand: card.brand ?? 'visa',
        last4: card.last4 ?? '4242',
        expMonth: card.expMonth ?? 12,
        expYear: card.expYear ?? 2034,
        // The same number, the same fingerprint (as the gateway's): here the card's last four stand for its number.
        fingerprint: card.fingerprint ?? `fp_${card.last4 ?? '4242'}`,
      };
      fake.paymentMethods.set(pm.id, pm);
      si.status = 'succeeded';
      si.paymentMethodId = pm.id;
      return pm.id;
    },
  };
  function check() {
    if (fake.down) throw new GatewayUnavailable('StripeConnectionError', undefined, undefined);
  }
  return fake;
}
