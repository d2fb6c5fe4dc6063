-- 002_scheduler: wake the schedulers at once when a target becomes urgent.
-- A re-test request, complaint or DNSBL trigger (priority >= 2) that makes a
-- target due now sends NOTIFY relayaudit_due, so a probe node starts it
-- within a second instead of at its next poll. Sweeps (priority 1) notify
-- once per statement from relayctl, not once per row. PostgreSQL folds
-- identical notifications of one transaction into one.

CREATE FUNCTION targets_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relayaudit_due', '');
    RETURN NULL;
END $$;

CREATE TRIGGER targets_due_notify
    AFTER INSERT OR UPDATE OF priority, next_probe_at ON targets
    FOR EACH ROW
    WHEN (NEW.priority >= 2 AND NEW.next_probe_at <= now() AND NEW.lease_owner IS NULL)
    EXECUTE FUNCTION targets_notify_due();

-- Claims write only lease_owner and lease_expires. With no index on either,
-- a claim is a HOT update (no index entries written; a GiST insert on
-- address was half the cost of a claim), given free room on the page.
-- Leased rows stay where they are in targets_due_idx; the claim query skips
-- them while their lease runs, and takes them again once it has run out.
DROP INDEX targets_lease_idx;
ALTER TABLE targets SET (fillfactor = 80);
