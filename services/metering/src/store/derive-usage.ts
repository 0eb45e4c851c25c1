import type pg from 'pg';

/**
 * Usage is a function of a subject's events, not of their arrival: for every
 * subject a batch touched, its intervals, ownership and gap are derived again
 * from all its events, set-based. Only the gap-free prefix of a subject's
 * sequence counts (`sequence = row_number()`); a hole makes the rest
 * unreliable until it fills. Three statements per batch, whatever its size:
 * one numbers new subjects, one clears what the subjects had, one derives it all from a single
 * ordered pass (a CTE referenced by three inserts is computed once).
 */
const CLEAR = `
  with s(subject) as (select unnest($1::text[])),
  usage as (delete from metering.usage_intervals u using s where u.subject = s.subject),
  -- An app.owner_changed event's subject is its app id.
  owners as (delete from metering.app_ownership o using s where o.app_id = s.subject)
  delete from metering.subject_gaps g using s where g.subject = s.subject`;

const DERIVE = `
  with ev as materialized (
    select e.subject, sj.id as subject_id, e.type, e.sequence, e.time, e.data, e.received_at,
           row_number() over (partition by e.subject order by e.sequence, e.received_at) as rn
      from unnest($1::text[]) s(subject)
      join metering.subjects sj on sj.subject = s.subject
      join metering.events e on e.subject = s.subject
  ),
  -- Each reliable event lasts until the next one of its subject: a dyno's
  -- start until its stop, a plan until the next change, an owner until the transfer.
  steps as materialized (
    select subject, subject_id, type, time, data,
           lead(time) over w as next_time,
           greatest(received_at, lead(received_at) over w) as learned_at,
           first_value(data->>'service') over w as service
      from ev
     where sequence = rn
    window w as (partition by subject order by sequence)
  ),
  usage as (
    insert into metering.usage_intervals (subject, subject_id, kind, app_id, key, product, during, learned_at)
    select subject, subject_id,
           case when type = 'dyno.started' then 'dyno' else 'addon' end,
           data->>'app_id',
           case when type = 'dyno.started' then data->>'name' else subject end,
           case when type = 'dyno.started' then 'dyno:' || (data->>'size')
                else 'addon:' || service || ':' || (data->>'plan') end,
           tstzrange(time, next_time, '[)'),
           learned_at
      from steps
     where type in ('dyno.started', 'addon.provisioned', 'addon.plan_changed')
       and (next_time is null or next_time > time)
  ),
  owners as (
    insert into metering.app_ownership (app_id, app_subject_id, account_id, during, learned_at)
    select subject, subject_id, data->>'account_id', tstzrange(time, next_time, '[)'), learned_at
      from steps
     where type = 'app.owner_changed' and (next_time is null or next_time > time)
  )
  insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from)
  select subject, min(data->>'app_id'), min(rn) filter (where sequence <> rn),
         max(time) filter (where sequence = rn)
    from ev
   group by subject
  having bool_or(sequence <> rn)`;

/** Numbers new subjects (the exclusion constraints compare numbers, not text). */
const NUMBER = `
  insert into metering.subjects (subject)
  select s from unnest($1::text[]) s
   where not exists (select from metering.subjects where subject = s)
  on conflict (subject) do nothing`;

export async function deriveUsage(client: pg.PoolClient, subjects: string[]): Promise<void> {
  if (subjects.length === 0) return;
  await client.query(NUMBER, [subjects]);
  await client.query(CLEAR, [subjects]);
  await client.query(DERIVE, [subjects]);
}
