-- Each card refused at the form as reported stolen (cards/blocked.ts), by account: a 422 tells a
-- signed-in account that a card is blocked here, a probe for a card tester. After
-- BLOCKED_REFUSALS_PER_HOUR of them in a sliding hour the account's next card setup is refused 429
-- before any gateway call (cards/blocked-refusals.ts). One row per setup intent: the same one posted
-- again learns nothing new and is not counted twice. Rows older than the hour are deleted as new
-- ones come. No fingerprint, no payment method: the account and its own setup intent only.
create table blocked_refusals (
  account_id      text collate "C" not null,
  setup_intent_id text collate "C" not null,
  at              timestamptz not null default now(),
  primary key (account_id, setup_intent_id)
);
create index blocked_refusals_by_account on blocked_refusals (account_id, at);
