-- Whether an attempt's connection spoke TLS, so a receipt that arrives after
-- the probe has ended names the trick as the probe did ("null/plain+tls"):
-- a relay only reachable over STARTTLS needs the TLS advice in its mail.
ALTER TABLE probe_attempts ADD COLUMN tls boolean NOT NULL DEFAULT false;
