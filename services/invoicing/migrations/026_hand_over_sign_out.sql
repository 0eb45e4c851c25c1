-- Signing out of the card form ends the invoice pages' session that handed the
-- customer over (security review: on a shared computer, the card form's Sign
-- out left the invoice pages signed in, and they could open the card form
-- again). Signing out of the invoice pages already ends the card form session
-- (live_links); this is the other way round.

-- Published for cc-forms (a fifth name): ends the invoicing session a used
-- hand-over link for `app_name` was made from; the number of sessions ended (0
-- or 1). An operator's link (no parent), an unused or unknown link ends
-- nothing. SECURITY DEFINER: cc-forms gets no other right on invoicing.sessions.
create function end_hand_over_parent(link_hash text, app_name text)
  returns integer
  language sql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  with ended as (
    delete from invoicing.sessions s
    using invoicing.sign_in_links l
    where l.hash = $1 and l.app = $2 and l.used_at is not null and s.hash = l.parent_session
    returning 1
  )
  select count(*)::int from ended
$$;
