-- 004_api: what the HTTP API adds to the model.
-- api_audit: every write through the API with the token that made it, so
-- "who changed this customer" has an answer even for tables without an actor
-- column. Append-only like case_events.
CREATE TABLE api_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,          -- token:NAME
    method  text NOT NULL,
    path    text NOT NULL CHECK (length(path) <= 2048),
    status  integer NOT NULL
);
CREATE INDEX api_audit_at_idx ON api_audit (at);

CREATE FUNCTION api_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'api_audit is append-only';
END $$;
CREATE TRIGGER api_audit_no_update BEFORE UPDATE OR DELETE ON api_audit
    FOR EACH ROW EXECUTE FUNCTION api_audit_append_only();

-- Keyset pages of /v1/cases?state=... and /v1/targets?verdict=... read these
-- in order instead of sorting every matching row.
CREATE INDEX cases_state_id_idx ON cases (state, id);
CREATE INDEX targets_verdict_id_idx ON targets (last_verdict, id);
