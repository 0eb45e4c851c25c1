-- Hand-overs into a session that was already open. Signed in here already as
-- the link's account, the invoice pages' hand-over goes straight on in the
-- session the browser has, whose link_hash still names the link that opened it
-- (an operator's, or an older hand-over's). Each such link is recorded against
-- the session, so signing out ends every invoice pages' session that handed
-- over into it (invoicing.end_hand_over_parent on link_hash and on each of
-- these), not only the first, which could open the card form again.
-- Rows go with their session: signed out, replaced, or expired and cleared.
create table session_hand_overs (
  session_hash text not null references sessions (hash) on delete cascade,
  link_hash    text not null,
  primary key (session_hash, link_hash)
);
