-- 007_receipts: proof a block can stand on. A receipt that could not have
-- been caused by its attempt is kept with the reason (anomaly) and changes
-- nothing; a receipt whose probe row is not written yet is marked (orphan_at)
-- so the matcher moves past it, and is matched again once the row exists.
ALTER TABLE sink_receipts
    ADD COLUMN anomaly     text,        -- why it changed nothing (replay, late, refused DATA...)
    ADD COLUMN orphan_at   timestamptz, -- first seen without its probe row
    ADD COLUMN via_target  boolean;     -- the probed address is in its Received: chain

DROP INDEX sink_receipts_unapplied_idx;
CREATE INDEX sink_receipts_unapplied_idx ON sink_receipts (id)
    WHERE NOT applied AND orphan_at IS NULL;
CREATE INDEX sink_receipts_orphan_idx ON sink_receipts (id)
    WHERE NOT applied AND orphan_at IS NOT NULL;
CREATE INDEX sink_receipts_anomaly_idx ON sink_receipts (anomaly) WHERE anomaly IS NOT NULL;

-- Recipients the server accepted in the attempt's transaction: a form is
-- named the trick only when it relayed alone (rcpts = 1), because a server
-- that checks only the last recipient relays a whole batch "in company".
ALTER TABLE probe_attempts ADD COLUMN rcpts smallint NOT NULL DEFAULT 1;
ALTER TABLE probes ADD COLUMN trick_alone boolean NOT NULL DEFAULT true;
