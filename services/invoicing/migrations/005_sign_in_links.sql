-- Sign-in links (issue 15). A sign-in link is not an API token: it opens one
-- web session, once, within 15 minutes of being made, and only after the
-- customer confirms on the page. Only the sha256 of its secret is kept.
-- Written against 004's token columns (tokens.id, expires_at, revoked_at).
create table sign_in_links (
  hash       text primary key,
  account_id text not null,
  -- The public id of the API token it was issued with (tokens.id): the link and
  -- the sessions it opens live only while that token does. Null opens nothing.
  token_id   text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '15 minutes',
  used_at    timestamptz,
  check (expires_at <= created_at + interval '15 minutes')
);

-- A session remembers the token and the link it came from. Sessions opened the
-- old way (an API token in the link) have neither: they end now.
delete from sessions;
alter table sessions add column token_id text not null, add column link_hash text not null;

-- API tokens no longer sign anyone in: the view that let the card form take them goes.
drop view sign_in_tokens;

-- Published for the two web apps (invoicing's own pages and cc-forms), which
-- both sign in through these three names and nothing else of this schema:

-- Account tokens that work now: not revoked, not expired. A web session lives
-- only while its token is in here (checked on every request).
create view live_tokens as
  select id, account_id from tokens
  where kind = 'account' and revoked_at is null and (expires_at is null or expires_at > now());

-- What the confirmation page shows: whose link it is, and whether it can still
-- sign in ('valid'), or why not ('used', 'expired', 'revoked').
create view sign_in_link_status as
  select l.hash, l.account_id, l.token_id, l.expires_at,
    case
      when l.used_at is not null then 'used'
      when l.expires_at <= now() then 'expired'
      when not exists (select 1 from live_tokens t where t.id = l.token_id and t.account_id = l.account_id) then 'revoked'
      else 'valid'
    end as state
  from sign_in_links l;

-- Consumes a link, atomically and once: the one caller whose update finds it
-- unused, unexpired and its token live gets its account and token; any other
-- caller, concurrent or later, gets no row. SECURITY DEFINER: a web app may
-- consume a link without any other right on this table.
create function consume_sign_in_link(link_hash text)
  returns table (account_id text, token_id text)
  language sql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  update invoicing.sign_in_links l set used_at = now()
  where l.hash = $1 and l.used_at is null and l.expires_at > now()
    and exists (select 1 from invoicing.live_tokens t where t.id = l.token_id and t.account_id = l.account_id)
  returning l.account_id, l.token_id
$$;
