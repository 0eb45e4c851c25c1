-- A number for every subject, so the exclusion constraints compare bigints:
-- GiST over text (btree_gist) costs about five times as much per insert, and
-- usage is written on every batch.
create table subjects (
  id      bigint generated always as identity primary key,
  subject text not null unique
);
insert into subjects (subject) select distinct subject from events order by subject;

alter table usage_intervals add column subject_id bigint references subjects;
update usage_intervals u set subject_id = s.id from subjects s where s.subject = u.subject;
alter table usage_intervals alter column subject_id set not null;
alter table usage_intervals drop constraint usage_intervals_subject_during_excl;
alter table usage_intervals add constraint usage_intervals_no_overlap
  exclude using gist (subject_id with =, during with &&);
create index usage_by_subject on usage_intervals (subject);

-- An app's ownership is derived from the app's own events: its subject is the app id.
alter table app_ownership add column app_subject_id bigint references subjects;
update app_ownership o set app_subject_id = s.id from subjects s where s.subject = o.app_id;
alter table app_ownership alter column app_subject_id set not null;
alter table app_ownership drop constraint app_ownership_app_id_during_excl;
alter table app_ownership add constraint app_ownership_no_overlap
  exclude using gist (app_subject_id with =, during with &&);
create index ownership_by_app on app_ownership (app_id);
