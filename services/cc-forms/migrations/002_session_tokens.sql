-- A session remembers the token and the sign-in link it came from (issue 15):
-- it lives only while that token is in invoicing.live_tokens. Sessions opened
-- the old way (an API token in the link) have neither: they end now.
delete from sessions;
alter table sessions add column token_id text not null, add column link_hash text not null;
