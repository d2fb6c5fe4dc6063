-- 010_webhook: every case event is queued for the webhook (webhook_url) in
-- the transaction that writes it, by a trigger on case_events: the one place
-- every writer of case events passes through, so none is missed or lost in a
-- crash. The body is fixed when queued, so each retry sends (and signs) the
-- same bytes. Claimed through the shared leased queue (db/queue.c).

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL UNIQUE,   -- case_events.id, the idempotency key
    case_id         bigint REFERENCES cases(id) ON DELETE SET NULL,
    body            text NOT NULL,            -- the JSON sent and signed
    state           job_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'running');

CREATE FUNCTION webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (event_id, case_id, body)
    SELECT NEW.id, NEW.case_id, jsonb_build_object(
               'event_id', NEW.id,
               'case_id', NEW.case_id,
               'kind', NEW.event,
               'actor', NEW.actor,
               'time', to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'address', host(k.address),
               'from_state', NEW.from_state,
               'state', NEW.to_state,
               'finding', k.finding,
               'blocked', k.blocked,
               'customer', c.ext_id,
               'detail', NEW.detail)::text
      FROM cases k LEFT JOIN customers c ON c.id = k.customer_id
     WHERE k.id = NEW.case_id;
    RETURN NULL;
END $$;
CREATE TRIGGER case_events_webhook AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION webhook_enqueue();
