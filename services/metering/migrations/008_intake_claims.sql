-- The intake's answer is true (issue 16): once a request's events are durable
-- on the bus, each new event's key is claimed here, so exactly one of two
-- concurrent answers carrying the same event counts it accepted and the other
-- a duplicate, as the consumer will count them. `claim` is the answer's own id.
create table intake_claims (
  source       text collate "C" not null,
  id           text collate "C" not null,
  content_hash text not null,
  claim        uuid not null,
  claimed_at   timestamptz not null default now(),
  primary key (source, id)
);
