-- Hand-over links (security review of web sign-in). The invoice pages'
-- /card-form makes a link from the customer's session to sign them in to
-- cc-forms. That link works only in cc-forms, and the session it opens lives
-- no longer than the session it came from: a stolen session cookie buys no
-- fresh 12 hours, and signing out of the invoice pages signs the card form out.
alter table sign_in_links
  -- The app a link is for; null (an operator's link) signs in to either.
  add column app text check (app in ('invoicing', 'cc-forms')),
  -- The sha256 of the invoicing session (sessions.hash) a hand-over link was made from.
  add column parent_session text,
  add constraint sign_in_links_hand_over check ((app is null) = (parent_session is null));

-- The hand-over limit counts a session's recent links; the clean-up finds expired ones.
create index sign_in_links_by_parent on sign_in_links (parent_session, created_at) where parent_session is not null;
create index sign_in_links_by_expiry on sign_in_links (expires_at);

-- Published for the two web apps (a fourth name): the links whose sessions may
-- live. A session of either app names its link and lives only while the link
-- is in here (deny by default: a link deleted ends its sessions). An operator's
-- link is in here while kept (a day past its expiry, beyond a session's 12 h);
-- a hand-over link while the session it came from has neither ended nor expired.
create view live_links as
  select l.hash from sign_in_links l
  where l.parent_session is null
     or exists (select 1 from sessions s where s.hash = l.parent_session and s.expires_at > now());

-- The confirmation page's view also says which app a link is for (`app`, null:
-- either), and 'ended' for a hand-over link whose session has ended.
create or replace view sign_in_link_status as
  select l.hash, l.account_id, l.token_id, l.expires_at,
    case
      when l.used_at is not null then 'used'
      when l.expires_at <= now() then 'expired'
      when not exists (select 1 from live_links k where k.hash = l.hash) then 'ended'
      when not exists (select 1 from live_tokens t where t.id = l.token_id and t.account_id = l.account_id) then 'revoked'
      else 'valid'
    end as state,
    l.app
  from sign_in_links l;

-- Consuming now names the app that signs in: a link for another app is no
-- link. A hand-over link also needs its session live, and returns that
-- session's end (`ends_by`, null for an operator's link): the session it opens
-- ends no later. The one-argument form goes (an older process gets the 503
-- "not set up" page until it is replaced, never a session).
drop function consume_sign_in_link(text);
create function consume_sign_in_link(link_hash text, app_name text)
  returns table (account_id text, token_id text, ends_by timestamptz)
  language sql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  update invoicing.sign_in_links l set used_at = now()
  where l.hash = $1 and l.used_at is null and l.expires_at > now()
    and (l.app is null or l.app = $2)
    and exists (select 1 from invoicing.live_tokens t where t.id = l.token_id and t.account_id = l.account_id)
    and exists (select 1 from invoicing.live_links k where k.hash = l.hash)
  returning l.account_id, l.token_id, (select s.expires_at from invoicing.sessions s where s.hash = l.parent_session)
$$;
