-- The hot path, made cheaper (see docs/contracts/metering.md, "Decisions").
--
-- Keys compare byte by byte: they are identifiers, never shown sorted by
-- language, and a locale-aware comparison costs several times as much in
-- every B-tree probe on the insert path.
alter table events
  alter column source  type text collate "C",
  alter column id      type text collate "C",
  alter column subject type text collate "C";
alter table subjects alter column subject type text collate "C";
alter table subject_gaps alter column subject type text collate "C";

-- Usage is cleared by subject number, not text. The subject ids come from
-- `subjects` in the very statement that writes them, and subjects are never
-- deleted, so the foreign keys only cost a lookup per written interval.
drop index usage_by_subject;
create index usage_by_subject_id on usage_intervals (subject_id);
alter table usage_intervals drop constraint usage_intervals_subject_id_fkey;
create index ownership_by_app_subject_id on app_ownership (app_subject_id);
alter table app_ownership drop constraint app_ownership_app_subject_id_fkey;
