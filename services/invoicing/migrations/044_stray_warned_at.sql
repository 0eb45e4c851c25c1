-- When a charging pass last warned `charge.stray_still_held` for the stray
-- payment the row holds (charging/stray-still-held.ts). A held stray stops the
-- invoice's dunning for good (never past due, the account never suspended for
-- it): warned once when held (`charge.stray`), it was forgotten by anyone who
-- missed that line. Now it is warned again once a day while held, counted from
-- the later of this and the hold (`last_attempt_at`, which strayRow sets and
-- nothing changes while the stray is held); kept here so a restart or a second
-- process does not warn it again the same day. Null until first warned.
alter table charges add column stray_warned_at timestamptz;
