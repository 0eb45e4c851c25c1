-- The 3-D Secure window (charging/decide.ts, authenticationWindow) counts from
-- the round's first ask for its card, not from the latest attempt. Card testing
-- revoking the PaymentIntent (033) makes the charger ask again on a new one an
-- hour later; counted from that ask, the window restarted at every cycle, so a
-- customer holding the page's client secret could burn the PaymentIntent with
-- junk cards about once an hour and keep the invoice from ever going past due.
-- `asked_round` is the round_start of the round `round_asked_at` belongs to: a
-- new card's round (another round_start) starts its own window. Both are written
-- with action_required_at at each ask (charging/round-ask.ts).
alter table charges
  add column round_asked_at timestamptz,
  add column asked_round integer;

-- Rows asked before this migration: the round's earliest ask told (its notice),
-- else, for a row still waiting, its latest ask (the best date known).
with asked as (
  select c.invoice_id,
         coalesce(
           (select min((n.event->>'time')::timestamptz) from notices n
             where n.id in (select 'invoice.action_required:' || c.invoice_id || ':' || k
                              from generate_series(c.round_start + 1, c.attempts) as k)),
           case when c.state = 'action_required' then c.action_required_at end) as at
    from charges c
   where c.state <> 'paid' and c.action_required_at is not null
)
update charges c set round_asked_at = asked.at, asked_round = c.round_start
  from asked
 where asked.invoice_id = c.invoice_id and asked.at is not null;
