// Events: what happened, as recorded in the transaction that did it.
// GET /v1/events (type filter; `*` as a suffix wildcard, e.g. `charge.*`) and GET /v1/events/:id.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxDeps } from '../deps.ts';
import { noSuch } from '../api/errors.ts';
import { listPage } from '../api/lists.ts';
import { listParams, parseParams, RetrieveParams } from '../api/params.ts';
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

export async function getEvent(q: Queryable, eventId: string) {
  const { rows } = await q.query<EventRow>(`select ${EVENT_COLUMNS} from gateway_sandbox.events where id = $1`, [eventId]);
  return rows[0] && renderEvent(rows[0]);
}

const ListEvents = z
  .object({
    ...listParams,
    type: z.string().max(100).optional(),
    types: z.array(z.string().max(100)).max(20).optional(),
  })
  .strict();

export function eventRoutes(http: FastifyInstance, deps: SandboxDeps): void {
  http.get<{ Params: { id: string } }>('/v1/events/:id', async (req) => {
    parseParams(RetrieveParams, req.query);
    const event = await getEvent(deps.pool, req.params.id);
    if (!event) throw noSuch('event', req.params.id);
    return event;
  });

  http.get('/v1/events', async (req) => {
    const p = parseParams(ListEvents, req.query);
    const where: string[] = [];
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
    return listPage<EventRow>(
      deps.pool,
      { table: 'events', columns: EVENT_COLUMNS, kind: 'event', where, args, url: '/v1/events', render: renderEvent },
      p,
    );
  });
}
