-- How far metering has read a partition's log: the offsets from next_offset up
-- to read_to (excluded) hold no message (Kafka: a transaction's commit or abort
-- marker, an aborted transaction's records after the last message applied), as
-- the fetch that read them found (docs/contracts/metering.md, "Positions belong
-- to a log"). Null: nothing known past next_offset. Only GET /v1/stats'
-- consumer_lag reads it; next_offset alone says what is applied.
alter table consumer_positions add column read_to bigint;
