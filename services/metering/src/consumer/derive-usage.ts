import type pg from 'pg';
import { arrayLiteral, jsonArrayLiteral } from '@vault/db';
import type { ValidInput } from '../domain/judge.ts';
import { newSubjectUsage } from '../domain/new-subject-usage.ts';
import { storeTime } from '../domain/store-time.ts';

/**
 * Usage is a function of a subject's events, not of their arrival: for every
 * subject a batch touched, its intervals, ownership and gap are derived again
 * from all its events, set-based. Only the gap-free prefix of a subject's
 * sequence counts (`sequence = rn`, rn dense over the sequences, one copy of a
 * repeated one counting); a hole makes the rest
 * unreliable until it fills. Two statements per batch, whatever its size: one
 * clears what the subjects had, one stores the new events and derives it all
 * from a single ordered pass over them and the subjects' earlier events (a CTE
 * referenced by several inserts is computed once). The batch's own events come
 * from the insert's `returning`, never read back from the table. A subject
 * without a history (batchBounds) has nothing to clear or read back, so only
 * the others are probed: most of a stream's subjects are new. Most new
 * subjects' rows are derived by metering itself (newSubjectUsage) and given
 * to the same statement, which then derives only the rest.
 *
 * The clear is a statement of its own: an interval deleted and one inserted
 * at the same start in one statement would meet in the unique index.
 *
 * Every statement reaches the rows of a batch's subjects through their
 * indexes, by a lateral subquery that `offset 0` keeps from being flattened:
 * a join against unnest() of a few thousand keys is otherwise planned as a
 * hash join over the whole, ever-growing table, and a delete's `= any(array)`
 * as a scan of it while its statistics are young (seen at 100,000 intervals:
 * half of a batch's time).
 */

/** The rows of the subjects ($1), found by one index probe each, for a delete by `ctid`. */
const probe = (table: string, column: string) =>
  `select t.ctid from unnest($1::text[]) s(k) cross join lateral (select ctid from ${table} t where t.${column} = s.k offset 0) t`;

const CLEAR = `
  with usage as (delete from metering.usage_intervals where ctid = any(array(${probe('metering.usage_intervals', 'subject')}))),
  -- An app.owner_changed event's subject is its app id.
  owners as (delete from metering.app_ownership where ctid = any(array(${probe('metering.app_ownership', 'app_id')})))
  delete from metering.subject_gaps where ctid = any(array(${probe('metering.subject_gaps', 'subject')}))`;

/**
 * CLEAR for a batch with subjects whose old events are archived ($2): what
 * started before the kept event's time came from archived events and stays
 * (migration 012). That time is read here, not passed: a JS Date drops its
 * microseconds, and a span starting between them would be deleted.
 */
const CLEAR_KEEPING = `
  with frozen as (select a.subject, a.frozen_before as before from metering.archived_subjects a where a.subject = any($2::text[])),
  usage as (delete from metering.usage_intervals u where u.ctid = any(array(${probe('metering.usage_intervals', 'subject')}))
              and not exists (select 1 from frozen f where f.subject = u.subject and lower(u.during) < f.before)),
  owners as (delete from metering.app_ownership o where o.ctid = any(array(${probe('metering.app_ownership', 'app_id')}))
               and not exists (select 1 from frozen f where f.subject = o.app_id and lower(o.during) < f.before))
  delete from metering.subject_gaps where ctid = any(array(${probe('metering.subject_gaps', 'subject')}))`;

/** The batch's events ($1–$7) and their keys ($8), stored; `returning` them for a derivation. */
const store = (returning: boolean) => `
  -- Its key is what makes an event unique, whatever month it is stored in (migration 013).
  keys as (
    insert into metering.event_keys (source, id, content_hash)
    select source, id, decode(hash, 'hex') from unnest($1::text[], $2::text[], $8::text[]) k(source, id, hash)
  ),
  new_events as (
    insert into metering.events (source, id, type, subject, sequence, time, data)
    select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::jsonb[])${
      returning
        ? `
    returning subject, type, sequence, time, data, received_at, source, id`
        : ''
    }
  )`;

/**
 * Events numbered by their distinct sequences (`rn`, dense: a repeated number is one step,
 * not a hole no event could fill), and of two events with one sequence, which one counts:
 * the earliest time, then source and id. The publisher numbers without repeats; when it
 * repeats, the choice is the events', never their arrival order. One sort serves both.
 */
const firstCopy = (e = '') =>
  `lag(${e}sequence) over (partition by ${e}subject order by ${e}sequence, ${e}time, ${e}source, ${e}id) is distinct from ${e}sequence as first_copy`;

/**
 * The stored events of the batch's subjects with a history ($9), before this statement, then the
 * batch's own, numbered from 1, or after the archived ones ($10, $11: the
 * subject and how many of its events are archived) when `archived`. When
 * `filtered`, the batch's own are only those of the subjects the SQL derives
 * ($10: with a history, or left to it by newSubjectUsage).
 */
const events = (archived: boolean, filtered = false) => `
${store(true)},
  ev as materialized (
    select subject, type, sequence, time, data, received_at,
           dense_rank() over (partition by subject order by sequence)${
             archived
               ? ' + coalesce((select a.n from unnest($10::text[], $11::int[]) a(subject, n) where a.subject = all_events.subject), 0)'
               : ''
           } as rn,
           ${firstCopy()}
      from (
        select e.subject, e.type, e.sequence, e.time,
               ${archived ? "case when a.service is null or e.data ? 'service' then e.data else e.data || jsonb_build_object('service', a.service) end" : 'e.data'} as data,
               e.received_at, e.source, e.id
          -- Read from the subject's first sealed month, or the first unsealed one when it has
          -- none: the months before are pruned at run time (migration 014). offset 0 keeps
          -- this an index probe per subject.
          from unnest($9::text[]) s(subject)
          left join metering.subject_months m on m.subject = s.subject
          cross join lateral (
            select * from metering.events e
             where e.subject = s.subject
               and e.stored_month >= coalesce(m.first_month, (select b.month from metering.events_sealed_before b))
            offset 0
          ) e${
            // An add-on's service is named only by its first event, which may be archived.
            archived
              ? `
          left join unnest($10::text[], $11::int[], $12::text[]) a(subject, n, service) on a.subject = e.subject`
              : ''
          }
        -- After the stored events: an Append runs its branches in order, so these probes
        -- run before the insert and never visit the batch's new rows (invisible to them anyway).
        union all
        select * from new_events${
          // Only the subjects derived here ($10); the others' rows came from newSubjectUsage. A semi
          // join, hashed in a generic plan too, where `= any($10)` would scan the list for every row.
          filtered ? ' n where n.subject in (select unnest($10::text[]))' : ''
        }
      ) all_events
  )`;
const EVENTS = events(false);
const EVENTS_AFTER_ARCHIVE = events(true);

/**
 * Rows derived by metering (newSubjectUsage) from $p on: usage, then owners.
 * The bounds are the events' own times; an empty span is dropped here, as the
 * SQL drops it (`next_time > time`), and not recorded as vanished: a subject
 * without a history was never billed. Learned when the batch's events were: now().
 */
const usageFromMetering = (p: number) => `
    select u.subject, u.kind, u.app_id, u.key, u.product, tstzrange(u.since, u.until, '[)'), now()
      from unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::text[], $${p + 3}::text[], $${p + 4}::text[],
                  $${p + 5}::timestamptz[], $${p + 6}::timestamptz[]) u(subject, kind, app_id, key, product, since, until)
     where u.until is null or u.until > u.since`;
const ownersFromMetering = (p: number) => `
    select o.app_id, o.account_id, tstzrange(o.since, o.until, '[)'), now()
      from unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::timestamptz[], $${p + 3}::timestamptz[]) o(app_id, account_id, since, until)
     where o.until is null or o.until > o.since`;

/** Each reliable event lasts until the next one of its subject: a dyno's start until its stop, a plan until the next change, an owner until the transfer. */
const derive = (fromMetering: boolean) => `
  steps as materialized (
    select subject, sequence, type, time, data,
           lead(time) over w as next_time,
           -- Learned once every event up to its next had arrived: a row after a filled gap only
           -- exists from the filling event on, however early its own two events came.
           max(received_at) over (w rows between unbounded preceding and 1 following) as learned_at,
           first_value(data->>'service') over w as service,
           -- An add-on's deprovisioning is its last event: nothing after it runs again.
           coalesce(bool_or(type = 'addon.deprovisioned') over (w rows between unbounded preceding and 1 preceding), false) as ended
      from ev
     where sequence = rn and first_copy
    window w as (partition by subject order by sequence)
  ),
  usage as (
    insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
    select subject,
           case when type = 'dyno.started' then 'dyno' else 'addon' end,
           data->>'app_id',
           case when type = 'dyno.started' then data->>'name' else subject end,
           case when type = 'dyno.started' then 'dyno:' || (data->>'size')
                else 'addon:' || service || ':' || (data->>'plan') end,
           tstzrange(time, next_time, '[)'),
           learned_at
      from steps
     where type in ('dyno.started', 'addon.provisioned', 'addon.plan_changed') and not ended
       and (next_time is null or next_time > time)${
         fromMetering
           ? `
    union all${usageFromMetering(11)}`
           : ''
       }
  ),
  -- A step its next event leaves empty, or a deprovisioning ends, has no interval, yet one an invoice charged may be gone:
  -- recorded for invoicing's late usage (migration 022). Never cleared; a re-derivation adds nothing.
  -- So is a repeated sequence's copy that lost to one on another app (a publisher's repeat naming
  -- another app_id), or to one that opens no interval (a deprovisioning): its app's interval is
  -- gone, and nothing of that app is learned late.
  vanished as (
    insert into metering.vanished_spans (subject, kind, app_id, at, learned_at)
    select subject, case when type = 'dyno.started' then 'dyno' else 'addon' end, data->>'app_id', time, learned_at
      from steps
     where type in ('dyno.started', 'addon.provisioned', 'addon.plan_changed')
       -- After a deprovisioning (a repeat of an earlier sequence may become one) a step opens
       -- nothing any more: one that did, on its own app, is gone as well.
       and (ended or next_time <= time) and data->>'app_id' is not null
    union all
    select e.subject, case when e.type = 'dyno.started' then 'dyno' else 'addon' end, e.data->>'app_id', e.time, s.learned_at
      from ev e join steps s on s.subject = e.subject and s.sequence = e.sequence
     where not e.first_copy and e.sequence = e.rn and not s.ended
       and e.type in ('dyno.started', 'addon.provisioned', 'addon.plan_changed')
       and e.data->>'app_id' is not null
       and (e.data->>'app_id' is distinct from s.data->>'app_id' or s.type not in ('dyno.started', 'addon.provisioned', 'addon.plan_changed'))
    on conflict do nothing
  ),
  owners as (
    insert into metering.app_ownership (app_id, account_id, during, learned_at)
    select subject, data->>'account_id', tstzrange(time, next_time, '[)'), learned_at
      from steps
     where type = 'app.owner_changed' and (next_time is null or next_time > time)${
       fromMetering
         ? `
    union all${ownersFromMetering(18)}`
         : ''
     }
  )
  insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from)
  select subject, min(data->>'app_id'), min(rn) filter (where sequence <> rn),
         max(time) filter (where sequence = rn and first_copy)
    from ev
   group by subject
  having bool_or(sequence <> rn)`;
const DERIVE = derive(false);
const DERIVE_NEW = `with ${EVENTS}, ${DERIVE}`;
const DERIVE_AFTER_ARCHIVE = `with ${EVENTS_AFTER_ARCHIVE}, ${DERIVE}`;
/** Some subjects derived here ($9 with a history, $10 all), the others' rows given ($11–$21). */
const DERIVE_SOME = `with ${events(false, true)}, ${derive(true)}`;
/** Every subject new and derived by metering: the events stored, the given rows with them ($9–$19). */
const STORE_DERIVED = `
  with ${store(false)},
  usage as (
    insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)${usageFromMetering(9)}
  )
  insert into metering.app_ownership (app_id, account_id, during, learned_at)${ownersFromMetering(16)}`;

/**
 * Stores events known to be new (in the caller's order) and derives the usage
 * of their subjects again; `known` are the subjects with a history. No `on
 * conflict` on the events: it costs a third of the insert, and the subject
 * locks already keep a re-send of the same event out. Only an id of another
 * subject's event reaches the keys' unique index: one stored before, under a
 * subject whose events were not looked up by key (applyBatch), or one racing
 * in from a concurrent batch. The index then refuses this batch, and
 * applyRefusing applies it again with every key looked up.
 */
export async function storeAndDerive(
  client: pg.PoolClient,
  items: ValidInput[],
  known: ReadonlySet<string>,
  archived?: ReadonlyMap<string, ArchivedStart>,
): Promise<string[]> {
  if (items.length === 0) return [];
  const subjects = [...new Set(items.map((i) => i.event.subject))];
  // Only a subject with a history (archived ones are known) has usage to clear and events to read back.
  const earlier = subjects.filter((s) => known.has(s));
  const starts = earlier.filter((s) => archived?.has(s));
  const listed = arrayLiteral(earlier);
  if (starts.length > 0)
    await client.query({
      name: 'metering.clear-keeping',
      text: CLEAR_KEEPING,
      values: [listed, starts],
    });
  else if (earlier.length > 0) await client.query({ name: 'metering.clear', text: CLEAR, values: [listed] });
  // Column arrays, not one JSON document: PostgreSQL unpacks them faster.
  const params: unknown[] = [
    arrayLiteral(items.map((i) => i.event.source)),
    arrayLiteral(items.map((i) => i.event.id)),
    arrayLiteral(items.map((i) => i.event.type)),
    arrayLiteral(items.map((i) => i.event.subject)),
    arrayLiteral(items.map((i) => i.event.sequence)),
    arrayLiteral(items.map((i) => storeTime(i.event.time))),
    jsonArrayLiteral(items.map((i) => i.dataJson)),
    arrayLiteral(items.map((i) => i.contentHash)),
    listed,
  ];
  if (starts.length > 0) {
    params.push(
      starts,
      starts.map((s) => archived!.get(s)!.archivedEvents),
      starts.map((s) => archived!.get(s)!.service),
    );
    await client.query({ name: 'metering.derive-after-archive', text: DERIVE_AFTER_ARCHIVE, values: params });
    return subjects;
  }
  // A new subject's usage comes from this batch alone: metering derives what it can (most of a stream).
  const derived = newSubjectUsage(items, (s) => !known.has(s));
  if (derived.derived === 0) {
    await client.query({ name: 'metering.derive', text: DERIVE_NEW, values: params });
    return subjects;
  }
  const { usage, owners } = derived;
  const rows = [
    ...[usage.subject, usage.kind, usage.appId, usage.key, usage.product, usage.from, usage.until].map(arrayLiteral),
    ...[owners.appId, owners.accountId, owners.from, owners.until].map(arrayLiteral),
  ];
  if (earlier.length === 0 && derived.inSql.length === 0)
    await client.query({ name: 'metering.store-derived', text: STORE_DERIVED, values: [...params.slice(0, 8), ...rows] });
  else
    await client.query({
      name: 'metering.derive-some',
      text: DERIVE_SOME,
      values: [...params, arrayLiteral([...earlier, ...derived.inSql]), ...rows],
    });
  return subjects;
}

/** An open subject whose first events are archived: derivation starts after them. */
export interface ArchivedStart {
  /** How many of its events are archived (its kept events are numbered after them). */
  archivedEvents: number;
  /** Its first kept event's time, to the millisecond (CLEAR_KEEPING reads the exact one): usage that starts before it stays as it is. */
  frozenBefore: Date;
  /** An add-on's service, named by its archived first event. */
  service: string | null;
}

/**
 * Derives the usage of `subjects` again from their stored events alone (the
 * first form of the derivation, reading every event back): what
 * storeAndDerive must always agree with.
 */
export async function deriveStored(client: pg.PoolClient, subjects: string[]): Promise<void> {
  if (subjects.length === 0) return;
  await client.query(CLEAR, [subjects]);
  const stored = `ev as materialized (
    select e.subject, e.type, e.sequence, e.time, e.data, e.received_at,
           dense_rank() over (partition by e.subject order by e.sequence) as rn, ${firstCopy('e.')}
      from unnest($1::text[]) s(subject)
      cross join lateral (select * from metering.events e where e.subject = s.subject offset 0) e
  )`;
  await client.query(`with ${stored}, ${DERIVE}`, [subjects]);
}
