// The SetupIntent routes. A publishable key may read and confirm one only
// with its client secret, and confirm it only until a confirmation fails (one
// card tried per SetupIntent).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { callerOf, sameSecret } from '../api/auth.ts';
import type { SandboxDeps } from '../deps.ts';
import { invalidRequest, unexpectedState } from '../api/errors.ts';
import { expandList, expandObject } from '../api/expand.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { errorForCaller, forCaller } from '../api/for-caller.ts';
import { clientSecret, newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { equalTo, listPage } from '../api/lists.ts';
import { expand, formBool, id, listParams, mergeMetadata, metadata, newMetadata, parseParams, text } from '../api/params.ts';
import type { Tx } from '../store/transaction.ts';
import { abandonChallenges } from './authentications.ts';
import { intentReferences } from './payment-methods.ts';
import { allowedTypes, refuseRemovedTypes, removedTypes } from './payment-method-types.ts';
import { confirmSetupIntent, renderSetupIntent, setupIntents, type SetupIntentRow } from './setup-intents.ts';

const CreateSetupIntent = z
  .object({
    customer: id.optional(),
    payment_method: id.optional(),
    // Refused (payment-method-types.ts); this API version's name is allowed_payment_method_types.
    payment_method_types: removedTypes.optional(),
    allowed_payment_method_types: allowedTypes.optional(),
    usage: z.enum(['on_session', 'off_session']).optional(),
    confirm: formBool.optional(),
    description: text.optional(),
    metadata: metadata.optional(),
    return_url: z.string().optional(),
    use_stripe_sdk: formBool.optional(),
    automatic_payment_methods: z
      .object({ enabled: formBool, allow_redirects: z.enum(['always', 'never']).optional() })
      .strict()
      .optional(),
    expand,
  })
  .strict();

const ConfirmSetupIntent = z
  .object({
    payment_method: id.optional(),
    // Card is the only type, and a SetupIntent's only one: accepted, nothing to change.
    allowed_payment_method_types: allowedTypes.optional(),
    client_secret: z.string().optional(),
    return_url: z.string().optional(),
    use_stripe_sdk: formBool.optional(),
    expand,
  })
  .strict();

const RetrieveSetupIntent = z.object({ client_secret: z.string().optional(), expand }).strict();
const CancelSetupIntent = z
  .object({ cancellation_reason: z.enum(['abandoned', 'requested_by_customer', 'duplicate']).optional(), expand })
  .strict();
const ListSetupIntents = z.object({ ...listParams, customer: id.optional(), payment_method: id.optional() }).strict();

/** The next action's shape: a redirect only when asked with a return_url and not by Stripe.js. */
const redirectTo = (p: { return_url?: string | undefined; use_stripe_sdk?: boolean | undefined }) =>
  p.use_stripe_sdk ? undefined : p.return_url;

async function createSetupIntent(tx: Tx, deps: SandboxDeps, p: z.infer<typeof CreateSetupIntent>) {
  if (p.allowed_payment_method_types !== undefined && p.automatic_payment_methods !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: allowed_payment_method_types, automatic_payment_methods.', {
      param: 'automatic_payment_methods',
    });
  }
  if (p.confirm && p.payment_method === undefined) {
    throw invalidRequest('You must provide a payment_method when confirm is true.', { param: 'payment_method', code: 'parameter_missing' });
  }
  const pm = await intentReferences(tx, deps, p.customer, p.payment_method);
  const siId = newId('seti');
  const { rows } = await tx.q.query<SetupIntentRow>(
    `insert into gateway_sandbox.setup_intents
       (id, created, customer, payment_method, status, usage, client_secret, payment_method_types, description, metadata)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *`,
    [
      siId,
      tx.now,
      p.customer ?? null,
      pm?.id ?? null,
      pm === undefined ? 'requires_payment_method' : 'requires_confirmation',
      p.usage ?? 'off_session',
      clientSecret(siId),
      JSON.stringify(p.allowed_payment_method_types ?? ['card']),
      p.description ?? null,
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  const created = rows[0]!;
  await tx.emit('setup_intent.created', renderSetupIntent(created));
  return p.confirm ? confirmSetupIntent(tx, deps, created, undefined, redirectTo(p)) : renderSetupIntent(created);
}

/** A publishable key must hold the intent's client secret; a secret key need not. */
function checkClientSecret(req: FastifyRequest, si: SetupIntentRow, given: string | undefined): void {
  if (callerOf(req).kind !== 'publishable') return;
  if (given === undefined || !sameSecret(given, si.client_secret)) {
    throw invalidRequest(`The client_secret provided does not match the client_secret associated with the SetupIntent.`, {
      param: 'client_secret',
      code: 'setup_intent_authentication_failure',
    });
  }
}

/**
 * With the publishable key, a SetupIntent whose confirmation failed is spent:
 * the card form asks its server for a new one (counted against
 * CARD_ATTEMPTS_PER_HOUR) to try another card. Stripe lets the same client
 * secret be confirmed again with another card, which is how one SetupIntent
 * tests card after card; the sandbox refuses it. The secret key may still.
 */
function refuseRetryAfterFailure(req: FastifyRequest, si: SetupIntentRow): void {
  if (callerOf(req).kind !== 'publishable' || si.status !== 'requires_payment_method' || si.last_setup_error === null) return;
  throw unexpectedState(
    'setup_intent',
    'You cannot confirm this SetupIntent again: its last confirmation failed. Create a new SetupIntent to try another card.',
    renderSetupIntent(si),
  );
}

/** A publishable key sees the intent, never what it links to. */
function refusePublishableExpand(req: FastifyRequest, expand: string[] | undefined): void {
  if (callerOf(req).kind === 'publishable' && expand?.length) {
    throw invalidRequest('This property cannot be expanded with a publishable key.', { param: 'expand' });
  }
}

export function setupIntentRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/setup_intents', async (req, reply) => {
    const p = parseParams(CreateSetupIntent, req.body);
    refuseRemovedTypes(p);
    const toExpand = expansion('setup_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => expandObject(tx.q, await createSetupIntent(tx, deps, p), toExpand));
  });

  http.get<{ Params: { id: string } }>('/v1/setup_intents/:id', { config: { publishable: true } }, async (req) => {
    const p = parseParams(RetrieveSetupIntent, req.query);
    const toExpand = expansion('setup_intent', p.expand);
    const si = await setupIntents.require(deps.pool, req.params.id);
    checkClientSecret(req, si, p.client_secret);
    refusePublishableExpand(req, p.expand);
    return expandObject(deps.pool, forCaller(req, renderSetupIntent(si)), toExpand);
  });

  http.post<{ Params: { id: string } }>('/v1/setup_intents/:id/confirm', { config: { publishable: true } }, async (req, reply) => {
    const p = parseParams(ConfirmSetupIntent, req.body);
    refusePublishableExpand(req, p.expand);
    const toExpand = expansion('setup_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const si = await setupIntents.require(tx.q, req.params.id, 'id', true);
      checkClientSecret(req, si, p.client_secret);
      try {
        refuseRetryAfterFailure(req, si);
        return await expandObject(tx.q, forCaller(req, await confirmSetupIntent(tx, deps, si, p.payment_method, redirectTo(p))), toExpand);
      } catch (err) {
        throw errorForCaller(req, err, 'setup_intent');
      }
    });
  });

  http.post<{ Params: { id: string } }>('/v1/setup_intents/:id/cancel', async (req, reply) => {
    const p = parseParams(CancelSetupIntent, req.body);
    const toExpand = expansion('setup_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const si = await setupIntents.require(tx.q, req.params.id, 'id', true);
      if (si.status === 'succeeded' || si.status === 'canceled') {
        throw unexpectedState(
          'setup_intent',
          `You cannot cancel this SetupIntent because it has a status of ${si.status}.`,
          renderSetupIntent(si),
        );
      }
      await abandonChallenges(tx, { kind: 'setup_intent', id: si.id });
      const canceled = renderSetupIntent(
        await setupIntents.update(tx.q, si.id, {
          status: 'canceled',
          next_action: null,
          cancellation_reason: p.cancellation_reason ?? null,
        }),
      );
      await tx.emit('setup_intent.canceled', canceled);
      return expandObject(tx.q, canceled, toExpand);
    });
  });

  http.post<{ Params: { id: string } }>('/v1/setup_intents/:id', async (req, reply) => {
    const p = parseParams(
      z
        .object({
          metadata: metadata.optional(),
          payment_method_types: removedTypes.optional(),
          // As on confirm: card only, already the SetupIntent's list.
          allowed_payment_method_types: allowedTypes.optional(),
          expand,
        })
        .strict(),
      req.body,
    );
    refuseRemovedTypes(p);
    const toExpand = expansion('setup_intent', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const si = await setupIntents.require(tx.q, req.params.id, 'id', true);
      const updated = renderSetupIntent(await setupIntents.update(tx.q, si.id, { metadata: mergeMetadata(si.metadata, p.metadata) }));
      return expandObject(tx.q, updated, toExpand);
    });
  });

  http.get('/v1/setup_intents', async (req) => {
    const p = parseParams(ListSetupIntents, req.query);
    const toExpand = listExpansion('setup_intent', p.expand);
    const filters = equalTo({ customer: p.customer, payment_method: p.payment_method });
    const page = await listPage<SetupIntentRow>(
      deps.pool,
      { table: 'setup_intents', kind: 'setupintent', ...filters, url: '/v1/setup_intents', render: renderSetupIntent },
      p,
    );
    return expandList(deps.pool, page, toExpand);
  });
}
