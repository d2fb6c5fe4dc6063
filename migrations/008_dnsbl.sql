-- DNSBL listings of customers' addresses as the daemon's dnsbl role sees
-- them: one row per listing (target, zone), open until the zone stops
-- listing the address. A new listing asks for a re-test (retest_requests)
-- and, like a delisting, is written to the active case's timeline.
CREATE TABLE dnsbl_listings (
    id           bigserial PRIMARY KEY,
    target_id    bigint NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    zone         text NOT NULL,
    code         text NOT NULL,          -- the A record the zone returned, e.g. 127.0.0.2
    listed_at    timestamptz NOT NULL DEFAULT now(),
    checked_at   timestamptz NOT NULL DEFAULT now(),
    delisted_at  timestamptz
);
CREATE UNIQUE INDEX dnsbl_listings_open_idx ON dnsbl_listings (target_id, zone)
    WHERE delisted_at IS NULL;
CREATE INDEX dnsbl_listings_target_idx ON dnsbl_listings (target_id, id);
