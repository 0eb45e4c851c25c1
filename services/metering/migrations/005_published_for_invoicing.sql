-- What invoicing reads (docs/contracts/metering.md, "Published for invoicing").
-- Views, so metering's own tables can change shape without breaking its reader.

-- Every usage interval: one dyno on one size, or one add-on on one plan, [from, to).
-- An open interval has no upper bound. learned_at is when the last event behind
-- it arrived: invoicing finds late usage for finalized months by it.
create view billable_usage as
  select app_id, kind, key, product, during, learned_at from usage_intervals;

-- Who pays for an app over a span; spans of one app never overlap.
create view billable_ownership as
  select app_id, account_id, during, learned_at from app_ownership;

-- Apps with a subject whose sequence has a hole: their usage from
-- unreliable_from on (from the beginning when null) is not known.
create view unreliable_apps as
  select app_id, subject, missing_sequence, unreliable_from from subject_gaps where app_id is not null;
