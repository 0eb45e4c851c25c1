import type pg from 'pg';

/**
 * Usage is a function of a subject's events, not of their arrival: for every
 * subject a batch touched, its intervals, ownership and gap are derived again
 * from all its events, set-based. Only the gap-free prefix of a subject's
 * sequence counts (`sequence = row_number()`); a hole makes the rest
 * unreliable until it fills. At most three statements per batch, whatever its
 * size: one numbers the subjects, one clears what the known ones had, one
 * derives it all from a single ordered pass (a CTE referenced by three inserts
 * is computed once).
 *
 * Every statement reaches the rows of a batch's subjects through their
 * indexes (`= any(array)`, or a lateral subquery that `offset 0` keeps from
 * being flattened): a join against unnest() of a few thousand keys is
 * otherwise planned as a hash join over the whole, ever-growing table.
 */
const CLEAR = `
  with usage as (delete from metering.usage_intervals where subject_id = any($1::bigint[])),
  -- An app.owner_changed event's subject is its app id.
  owners as (delete from metering.app_ownership where app_subject_id = any($1::bigint[]))
  delete from metering.subject_gaps where subject = any($2::text[])`;

const DERIVE = `
  with ev as materialized (
    select e.subject, s.subject_id, e.type, e.sequence, e.time, e.data, e.received_at,
           row_number() over (partition by e.subject order by e.sequence, e.received_at) as rn
      from unnest($1::text[], $2::bigint[]) s(subject, subject_id)
      -- offset 0 keeps this an index probe per subject (see above).
      cross join lateral (select * from metering.events e where e.subject = s.subject offset 0) e
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

/** The number of every subject: the exclusion constraints compare numbers, not text. */
async function numberSubjects(client: pg.PoolClient, subjects: string[]) {
  const { rows: known } = await client.query<{ id: string; subject: string }>(
    'select id, subject from metering.subjects where subject = any($1::text[])',
    [subjects],
  );
  const have = new Set(known.map((r) => r.subject));
  const missing = subjects.filter((s) => !have.has(s));
  if (missing.length === 0) return { known, fresh: [] };
  // The caller holds the subjects' locks: no concurrent batch numbers them meanwhile.
  const { rows: fresh } = await client.query<{ id: string; subject: string }>(
    'insert into metering.subjects (subject) select unnest($1::text[]) returning id, subject',
    [missing],
  );
  return { known, fresh };
}

export async function deriveUsage(client: pg.PoolClient, subjects: string[]): Promise<void> {
  if (subjects.length === 0) return;
  const { known, fresh } = await numberSubjects(client, subjects);
  // A subject numbered just now has nothing derived yet to clear.
  if (known.length > 0) await client.query(CLEAR, [known.map((r) => r.id), known.map((r) => r.subject)]);
  const all = [...known, ...fresh];
  await client.query(DERIVE, [all.map((r) => r.subject), all.map((r) => r.id)]);
}
