-- Token kinds and lifetimes (issue 15). Every token gets a public id (tok_…),
-- what `vault token list` shows and `vault token revoke ID` takes, never its
-- value; a fourth kind, publisher (POST /v1/events on metering, nothing else);
-- an optional expiry and a revocation. A token works while it is live: not
-- revoked and not expired, computed at query time, so either stops it at once.
alter table tokens
  add column id text,
  add column expires_at timestamptz,
  add column revoked_at timestamptz;
update tokens set id = 'tok_' || substr(md5(hash || random()::text || clock_timestamp()::text), 1, 16);
alter table tokens
  alter column id set not null,
  add constraint tokens_id_key unique (id),
  drop constraint tokens_kind_check,
  add constraint tokens_kind_check check (kind in ('account', 'finance', 'publisher'));

-- Published for metering: the live publisher tokens, by the sha256 (hex) of
-- their value. Metering reads this view and nothing else of this schema.
create view publisher_tokens as
  select id, hash from tokens
  where kind = 'publisher' and revoked_at is null and (expires_at is null or expires_at > now());
