// Events: what happened, as recorded in the transaction that did it.
// GET /v1/events (type filter, `*` as a suffix wildcard, e.g. `charge.*`, or types[]; created
// ranges) and GET /v1/events/:id, both of the last 30 days only, as Stripe keeps them
// (an older event is listed nowhere and retrieved as resource_missing; the delivery loop still reads it).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { noSuch } from '../api/errors.ts';
import { listPage } from '../api/lists.ts';
import { formInt, listParams, parseParams, RetrieveParams } from '../api/params.ts';
import type { Queryable } from '../store/transaction.ts';

export interface EventRow {
  id: string;
  created: string;
  type: string;
  api_version: string;
  data: { object: object; previous_attributes?: Record<string, unknown> };
  request_id: string | null;
  idempotency_key: string | null;
  pending_webhooks: number;
}

/** An event with the count of its undelivered deliveries (`from gateway_sandbox.events`, not aliased). */
const EVENT_COLUMNS = `events.*, (select count(*)::int from gateway_sandbox.deliveries d
                                   where d.event_id = events.id and d.delivered_at is null) as pending_webhooks`;

function renderEvent(r: EventRow) {
  return {
    id: r.id,
    object: 'event' as const,
    api_version: r.api_version,
    created: Number(r.created),
    data: r.data,
    livemode: false,
    pending_webhooks: r.pending_webhooks,
    request: { id: r.request_id || null, idempotency_key: r.idempotency_key },
    type: r.type,
  };
}

/** Stripe lists and retrieves the events of the last 30 days only. */
const KEPT_SECONDS = 30 * 86_400;
/** The one rule both routes apply: the event is of the last 30 days (the database's clock). */
const RECENT = `created >= extract(epoch from now())::bigint - ${KEPT_SECONDS}`;

/** An event by id, of any age (the delivery loop); `recentOnly` is the API's view, the last 30 days. */
export async function getEvent(q: Queryable, eventId: string, recentOnly = false) {
  const { rows } = await q.query<EventRow>(
    `select ${EVENT_COLUMNS} from gateway_sandbox.events where id = $1 ${recentOnly ? `and ${RECENT}` : ''}`,
    [eventId],
  );
  return rows[0] && renderEvent(rows[0]);
}

/** Stripe's filter on `created` (Unix seconds): exactly one instant, or a range of gt/gte/lt/lte. */
const Created = z.union([
  formInt,
  z.object({ gt: formInt.optional(), gte: formInt.optional(), lt: formInt.optional(), lte: formInt.optional() }).strict(),
]);
const RANGE = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

const ListEvents = z
  .object({
    ...listParams,
    type: z.string().max(100).optional(),
    types: z.array(z.string().max(100)).max(20).optional(),
    created: Created.optional(),
  })
  .strict()
  .refine((p) => p.type === undefined || p.types === undefined, {
    message: 'You may pass either type or types, but not both.',
    path: ['types'],
  });

export function eventRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.get<{ Params: { id: string } }>('/v1/events/:id', async (req) => {
    parseParams(RetrieveParams, req.query);
    const event = await getEvent(deps.pool, req.params.id, true);
    if (!event) throw noSuch('event', req.params.id);
    return event;
  });

  http.get('/v1/events', async (req) => {
    const p = parseParams(ListEvents, req.query);
    const where: string[] = [RECENT];
    const args: unknown[] = [];
    if (p.type !== undefined) {
      if (p.type.endsWith('*')) {
        args.push(`${p.type.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
        where.push(`type like $${args.length}`);
      } else {
        args.push(p.type);
        where.push(`type = $${args.length}`);
      }
    }
    if (p.types !== undefined) {
      args.push(p.types);
      where.push(`type = any($${args.length})`);
    }
    const created = typeof p.created === 'number' ? { eq: p.created } : (p.created ?? {});
    for (const [bound, value] of Object.entries(created)) {
      if (value === undefined) continue;
      args.push(value);
      where.push(`created ${bound === 'eq' ? '=' : RANGE[bound as keyof typeof RANGE]} $${args.length}`);
    }
    return listPage<EventRow>(
      deps.pool,
      { table: 'events', columns: EVENT_COLUMNS, kind: 'event', where, args, url: '/v1/events', render: renderEvent },
      p,
    );
  });
}
