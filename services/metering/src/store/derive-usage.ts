import type pg from 'pg';

/**
 * Usage is a function of a subject's events, not of their arrival: for every
 * subject a batch touched, its intervals are derived again from all its
 * events, set-based. Only the gap-free prefix of a subject's sequence counts
 * (`sequence = row_number()`); a hole makes the rest unreliable until it fills.
 */
const ORDERED = `
  ev as (
    select e.subject, e.type, e.sequence, e.time, e.data, e.received_at,
           row_number() over (partition by e.subject order by e.sequence, e.received_at) as rn
      from metering.events e
     where e.subject = any($1::text[])
  ),
  reliable as (select * from ev where sequence = rn)`;

const USAGE = `
  with ${ORDERED},
  dyno as (
    select s.subject, 'dyno' as kind, s.data->>'app_id' as app_id, s.data->>'name' as key,
           'dyno:' || (s.data->>'size') as product, s.time as lower_t, t.time as upper_t,
           greatest(s.received_at, t.received_at) as learned_at
      from reliable s
      left join reliable t on t.subject = s.subject and t.type = 'dyno.stopped'
     where s.type = 'dyno.started'
  ),
  addon_steps as (
    select r.*,
           first_value(r.data->>'service') over w as service,
           lead(r.time) over w as next_time,
           lead(r.received_at) over w as next_received_at
      from reliable r
     where r.type like 'addon.%'
    window w as (partition by r.subject order by r.sequence)
  ),
  addon as (
    select subject, 'addon', data->>'app_id', subject, 'addon:' || service || ':' || (data->>'plan'),
           time, next_time, greatest(received_at, next_received_at)
      from addon_steps
     where type in ('addon.provisioned', 'addon.plan_changed')
  )
  insert into metering.usage_intervals (subject, kind, app_id, key, product, during, learned_at)
  select subject, kind, app_id, key, product, tstzrange(lower_t, upper_t, '[)'), learned_at
    from (select * from dyno union all select * from addon) u
   where upper_t is null or upper_t > lower_t`;

const OWNERSHIP = `
  with ${ORDERED},
  steps as (
    select subject, data->>'account_id' as account_id, time,
           lead(time) over w as next_time,
           greatest(received_at, lead(received_at) over w) as learned_at
      from reliable where type = 'app.owner_changed'
    window w as (partition by subject order by sequence)
  )
  insert into metering.app_ownership (app_id, account_id, during, learned_at)
  select subject, account_id, tstzrange(time, next_time, '[)'), learned_at
    from steps where next_time is null or next_time > time`;

const GAPS = `
  with ${ORDERED}
  insert into metering.subject_gaps (subject, app_id, missing_sequence, unreliable_from)
  select ev.subject, min(ev.data->>'app_id'), min(ev.rn) filter (where ev.sequence <> ev.rn),
         (select max(r.time) from reliable r where r.subject = ev.subject)
    from ev
   group by ev.subject
  having bool_or(ev.sequence <> ev.rn)`;

export async function deriveUsage(client: pg.PoolClient, subjects: string[]): Promise<void> {
  if (subjects.length === 0) return;
  const args = [subjects];
  await client.query('delete from metering.usage_intervals where subject = any($1::text[])', args);
  await client.query(USAGE, args);
  // An app.owner_changed event's subject is its app id.
  await client.query('delete from metering.app_ownership where app_id = any($1::text[])', args);
  await client.query(OWNERSHIP, args);
  await client.query('delete from metering.subject_gaps where subject = any($1::text[])', args);
  await client.query(GAPS, args);
}
