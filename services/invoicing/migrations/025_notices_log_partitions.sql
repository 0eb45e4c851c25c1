-- Notices review: each notice is keyed by its account so that an account's
-- notices share a partition and keep their order, but the key picks a
-- partition by the topic's partition count. Partitions added to the topic
-- (which keeps its log) sent an account's later notices to another partition,
-- where a consumer could read `account.reinstated` before the
-- `account.suspended` it follows. The count a log had when the publisher first
-- met it is kept here, and keys are spread over that many partitions for as
-- long as the log lives. Null: a log recorded before this column; it takes the
-- count it has at its next publish.
alter table notices_logs add column partitions integer check (partitions > 0);
