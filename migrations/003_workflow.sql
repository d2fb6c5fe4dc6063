-- 003_workflow: what the case runner and its executors keep beyond 001.
-- Probe rows are consumed once (workflow_done_at); cases carry their timer
-- kind, reminder count, enforcement mode and a visible enforcer failure;
-- the outbox records the moment a message was handed off (the final dot),
-- so a crashed mailer never sends it a second time.

ALTER TABLE probes ADD COLUMN workflow_done_at timestamptz;
-- Probes that finished before the workflow existed are not findings to act on.
UPDATE probes SET workflow_done_at = now() WHERE verdict IS NOT NULL;
CREATE INDEX probes_workflow_pending_idx ON probes (address, id) WHERE workflow_done_at IS NULL;

ALTER TABLE cases
    ADD COLUMN next_timer_kind text CHECK (next_timer_kind IN ('reminder', 'escalation')),
    ADD COLUMN reminders integer NOT NULL DEFAULT 0,
    ADD COLUMN enforce_mode text CHECK (enforce_mode IN ('port25_inbound', 'smarthost')),
    -- Set while an enforcer hook call of this case keeps failing; cleared when it succeeds.
    ADD COLUMN enforcement_error text;

ALTER TABLE outbox
    -- Set just before the final "." of DATA: from then on the smarthost may
    -- hold the message, so it is never sent again (RFC 1047).
    ADD COLUMN handoff_at timestamptz,
    ADD COLUMN delivered_to text;       -- smarthost reply or file the message went to

-- Everything an executor did or is trying to do for a case, for the API and relayctl.
CREATE VIEW case_actions AS
    SELECT case_id, 'mail'::text AS executor, kind AS action, id, idempotency_key, state,
           attempts, last_error, next_attempt_at, created_at, sent_at AS done_at
      FROM outbox
    UNION ALL
    SELECT case_id, 'enforcer'::text, action, id, idempotency_key, state,
           attempts, last_error, next_attempt_at, created_at, done_at
      FROM enforcement_actions;
