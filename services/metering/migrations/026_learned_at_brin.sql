-- Invoicing's finalize schedule asks each tick what metering learned since a run's
-- snapshot (docs/contracts/invoicing.md, "Finalize schedule"): with no index on
-- learned_at that read every interval and ownership kept (review R2, finding 3: 300,000
-- of each, 7,589 pages, to find none). BRIN, not a B-tree: the consumer appends rows
-- roughly in learned_at order, the index is a few pages, and an insert into a page range
-- not yet summarized costs nothing (autosummarize sums it up behind). minmax_multi keeps
-- a range narrow when a re-derived subject's rows land in an old page's free space.
create index usage_intervals_learned_at on usage_intervals using brin (learned_at timestamptz_minmax_multi_ops) with (autosummarize = on);
create index app_ownership_learned_at on app_ownership using brin (learned_at timestamptz_minmax_multi_ops) with (autosummarize = on);
create index vanished_spans_learned_at on vanished_spans using brin (learned_at timestamptz_minmax_multi_ops) with (autosummarize = on);
-- Each settled month's table gets its own, now and as ensure_settled_month attaches it.
create index settled_usage_learned_at on settled_usage using brin (learned_at timestamptz_minmax_multi_ops) with (autosummarize = on);
