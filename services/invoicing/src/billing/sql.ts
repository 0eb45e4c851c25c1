// SQL fragments shared by invoicing's queries of metering's published views.

/**
 * Whole milliseconds of a bounded range: each bound truncated to the
 * millisecond, as the rating domain counts instants (eventTimeMs).
 */
export const ms = (range: string) =>
  `(floor(extract(epoch from upper(${range})) * 1000) - floor(extract(epoch from lower(${range})) * 1000))`;

/**
 * metering.billable_usage rows that may reach into a window starting at `from`
 * (an SQL timestamptz): settled usage (metering migration 016) whose last
 * month is before the window's first month ends before it, and its months'
 * tables are pruned — when `from` is a parameter, as the executor starts.
 * Live usage (`last_month` infinity) always passes.
 */
export const reachesFrom = (u: string, from: string) =>
  `${u}.last_month >= coalesce((date_trunc('month', (${from}) at time zone 'UTC'))::date, '-infinity'::date)`;

/** How long after an invoice's finalization a metering transaction may still commit usage it did not see. */
export const LATE_MARGIN_INTERVAL = '1 hour';

/**
 * The apps with a usage change not yet folded into the aggregates (read live,
 * usage-days.ts), once each, in the default collation: the queue keeps them in
 * "C", which would keep metering's indexes by app out of a join with them.
 */
export const QUEUED_APPS = `select distinct a.app_id collate "default" as app_id from metering.usage_changes c, unnest(c.apps) a(app_id)`;
