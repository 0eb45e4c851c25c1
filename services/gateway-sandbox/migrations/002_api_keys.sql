-- Issue 15: the sandbox's API keys, generated once per installation, never a
-- constant that every installation (and anyone who read the source) shares.
-- Published to the apps that call the sandbox (invoicing, cc-forms, the
-- `vault` command), which read them at boot unless GATEWAY_SECRET_KEY and
-- GATEWAY_PUBLISHABLE_KEY are configured: exactly these two columns.
create table api_keys (
  only_row boolean primary key default true check (only_row),
  secret_key text not null check (secret_key ~ '^sk_test_[0-9a-f]{64}$'),
  publishable_key text not null check (publishable_key ~ '^pk_test_[0-9a-f]{32}$')
);
insert into api_keys (secret_key, publishable_key)
  values ('sk_test_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
          'pk_test_' || replace(gen_random_uuid()::text, '-', ''));
