// The embedded consumer's statements. Each is for one incarnation of the topic
// (its log, docs/contracts/bus.md "Log identity"): a position or an offset
// read in a deleted topic never reaches the one created again.

/** NOTIFY channel: publishers name the topic, idle consumers of it wake up. */
export const BUS_CHANNEL = 'vault_bus';

/** The identity of topic `t`'s log (`LogIdentity.id`), as SQL over `bus.topics t`. */
export const EMBEDDED_LOG_ID = `'embedded:' || (select id from bus.identity) || '/' || t.topic || '/' || t.incarnation`;

/** $1 topic → the topic's incarnation; no row while it does not exist. */
export const INCARNATION = 'select incarnation::text from bus.topics where topic = $1';

/** $1 `vbus:<group tag>:%` → the group's members in this database, in a stable order. */
export const MEMBERS = `
  select application_name from pg_stat_activity
   where datname = current_database() and application_name like $1 order by application_name`;

/**
 * $1 group, $2 topic, $3 partition, $4 incarnation → where the group reads the
 * partition from; no row when the topic is no longer that incarnation. An
 * offset past the partition's end (committed in another log before migration
 * 004 forgot such offsets) reads from the start, as Kafka does.
 */
export const POSITION = `
  select case when o.next_offset <= p.next_offset then o.next_offset else 0 end::text as next_offset
    from bus.topics t
    join bus.partitions p on p.topic = t.topic
    left join bus.group_offsets o on o.group_id = $1 and o.topic = p.topic and o.partition = p.partition
   where t.topic = $2 and t.incarnation = $4 and p.partition = $3`;

/** $1 topic, $2 partition, $3 from offset, $4 limit, $5 incarnation → the next messages of that log. */
export const FETCH = `
  select m."offset"::text as offset, m.key, m.value,
         (extract(epoch from m.published_at) * 1000)::bigint::text as ts, p.next_offset::text as high,
         ${EMBEDDED_LOG_ID} as log
    from bus.messages m
    join bus.partitions p on p.topic = m.topic and p.partition = m.partition
    join bus.topics t on t.topic = m.topic and t.incarnation = $5
   where m.topic = $1 and m.partition = $2 and m."offset" >= $3
   order by m."offset" limit $4`;

/**
 * $1 group, $2 topic, $3 partition, $4 next offset, $5 incarnation: commits
 * only while the topic is still that incarnation (no row otherwise). The
 * topic's row is held (for key share) until the commit ends, so a delete of
 * the topic, whose trigger forgets the topic's offsets, waits for it.
 */
export const COMMIT = `
  insert into bus.group_offsets (group_id, topic, partition, next_offset)
  select $1, t.topic, $3, $4 from bus.topics t where t.topic = $2 and t.incarnation = $5 for key share
  on conflict (group_id, topic, partition) do update
    set next_offset = greatest(bus.group_offsets.next_offset, excluded.next_offset),
        committed_at = now()`;
