-- An archive file is written under a part name of its own run (`part`), linked
-- to its final name once synced, and the part unlinked only once its row is
-- `done`. A `writing` row's cleanup then removes the final file only when it is
-- the part's own inode: a file another installation wrote under the same name
-- in a shared ARCHIVE_DIR is never removed. Rows from before have no part: their
-- cleanup removes the name as before (their run renamed its file into place).
alter table archive_files add column part text;
