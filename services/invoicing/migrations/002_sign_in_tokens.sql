-- Published for the card form (cc-forms): an account's sign-in token opens the
-- card form as it opens the invoice UI. Only hashes, only account tokens.
create view sign_in_tokens as
  select hash, account_id from tokens where kind = 'account';
