// Webhook endpoints: where events are delivered. The signing secret is shown
// once, in the create answer (as Stripe does).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { newId } from '../api/ids.ts';
import { mutate } from '../api/idempotency.ts';
import { listPage } from '../api/lists.ts';
import { expansion, listExpansion } from '../api/expandable.ts';
import { expand, formBool, listParams, mergeMetadata, metadata, newMetadata, parseParams, RetrieveParams, text } from '../api/params.ts';
import { rowsById } from '../store/rows.ts';
import type { Tx } from '../store/transaction.ts';
import { shownUrl } from '../webhooks/endpoint-url.ts';
import { newWebhookSecret } from '../webhooks/sign.ts';

export interface WebhookEndpointRow {
  id: string;
  created: string;
  url: string;
  enabled_events: string[];
  secret: string;
  status: 'enabled' | 'disabled';
  description: string | null;
  api_version: string | null;
  metadata: Record<string, string>;
}

export function renderWebhookEndpoint(r: WebhookEndpointRow, withSecret = false) {
  return {
    id: r.id,
    object: 'webhook_endpoint' as const,
    api_version: r.api_version,
    application: null,
    created: Number(r.created),
    description: r.description,
    enabled_events: r.enabled_events,
    livemode: false,
    metadata: r.metadata,
    ...(withSecret ? { secret: r.secret } : {}),
    status: r.status,
    url: r.url,
  };
}

const url = z.string().refine((u) => {
  try {
    return ['http:', 'https:'].includes(new URL(u).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

/** '*' or an event type such as `payment_intent.succeeded` (types never emitted are simply never delivered). */
const eventType = z.string().regex(/^(\*|[a-z_]+(\.[a-z_]+)+)$/, "must be '*' or an event type such as payment_intent.succeeded");

const CreateEndpoint = z
  .object({
    url,
    enabled_events: z.array(eventType).min(1),
    description: text.optional(),
    api_version: z.string().optional(),
    metadata: metadata.optional(),
    expand,
  })
  .strict();

const UpdateEndpoint = z
  .object({
    url: url.optional(),
    enabled_events: z.array(eventType).min(1).optional(),
    description: text.optional(),
    disabled: formBool.optional(),
    metadata: metadata.optional(),
    expand,
  })
  .strict();

const endpoints = rowsById<WebhookEndpointRow>('webhook_endpoints', 'webhook endpoint');

async function createEndpoint(tx: Tx, p: z.infer<typeof CreateEndpoint>) {
  const { rows } = await tx.q.query<WebhookEndpointRow>(
    `insert into gateway_sandbox.webhook_endpoints (id, created, url, enabled_events, secret, status, description, api_version, metadata)
     values ($1, $2, $3, $4, $5, 'enabled', $6, $7, $8) returning *`,
    [
      newId('we'),
      tx.now,
      p.url,
      JSON.stringify(p.enabled_events),
      newWebhookSecret(),
      p.description ?? null,
      p.api_version ?? null,
      JSON.stringify(newMetadata(p.metadata)),
    ],
  );
  return renderWebhookEndpoint(rows[0]!, true);
}

async function updateEndpoint(tx: Tx, endpointId: string, p: z.infer<typeof UpdateEndpoint>) {
  const before = await endpoints.require(tx.q, endpointId, 'id', true);
  const { rows } = await tx.q.query<WebhookEndpointRow>(
    `update gateway_sandbox.webhook_endpoints
        set url = $2, enabled_events = $3, description = $4, status = $5, metadata = $6
      where id = $1 returning *`,
    [
      endpointId,
      p.url ?? before.url,
      JSON.stringify(p.enabled_events ?? before.enabled_events),
      p.description === undefined ? before.description : p.description,
      p.disabled === undefined ? before.status : p.disabled ? 'disabled' : 'enabled',
      JSON.stringify(mergeMetadata(before.metadata, p.metadata)),
    ],
  );
  return renderWebhookEndpoint(rows[0]!);
}

export function webhookEndpointRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.post('/v1/webhook_endpoints', async (req, reply) => {
    const p = parseParams(CreateEndpoint, req.body);
    expansion('webhook_endpoint', p.expand);
    return mutate(deps, req, reply, async (tx) => {
      const endpoint = await createEndpoint(tx, p);
      // A password in the URL (basic auth, as Stripe allows) is masked: user:***@.
      deps.log.info('gateway.webhook_endpoint_created', { endpoint: endpoint.id, url: shownUrl(endpoint.url) });
      return endpoint;
    });
  });

  http.get('/v1/webhook_endpoints', async (req) => {
    const p = parseParams(z.object(listParams).strict(), req.query);
    listExpansion('webhook_endpoint', p.expand);
    return listPage<WebhookEndpointRow>(
      deps.pool,
      {
        table: 'webhook_endpoints',
        kind: 'webhook endpoint',
        where: [],
        args: [],
        url: '/v1/webhook_endpoints',
        render: (r) => renderWebhookEndpoint(r),
      },
      p,
    );
  });

  http.get<{ Params: { id: string } }>('/v1/webhook_endpoints/:id', async (req) => {
    expansion('webhook_endpoint', parseParams(RetrieveParams, req.query).expand);
    return renderWebhookEndpoint(await endpoints.require(deps.pool, req.params.id));
  });

  http.post<{ Params: { id: string } }>('/v1/webhook_endpoints/:id', async (req, reply) => {
    const p = parseParams(UpdateEndpoint, req.body);
    expansion('webhook_endpoint', p.expand);
    return mutate(deps, req, reply, (tx) => updateEndpoint(tx, req.params.id, p));
  });

  http.delete<{ Params: { id: string } }>('/v1/webhook_endpoints/:id', async (req, reply) => {
    parseParams(z.object({}).strict(), req.query);
    return mutate(deps, req, reply, async (tx) => {
      await endpoints.require(tx.q, req.params.id, 'id', true);
      // Its pending deliveries go with it (on delete cascade).
      await tx.q.query('delete from gateway_sandbox.webhook_endpoints where id = $1', [req.params.id]);
      return { id: req.params.id, object: 'webhook_endpoint', deleted: true };
    });
  });
}
