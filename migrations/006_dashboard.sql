-- 006_dashboard: what the dashboard reads often.
-- A sweep's verdicts come from its probes (the probe writer clears
-- targets.sweep_id once a target is done), so probes are found by sweep.
CREATE INDEX probes_sweep_idx ON probes (sweep_id, target_id, id) WHERE sweep_id IS NOT NULL;

-- The desk escalates from the dashboard what the timer would escalate later.
ALTER TABLE case_commands DROP CONSTRAINT case_commands_command_check;
ALTER TABLE case_commands ADD CONSTRAINT case_commands_command_check
    CHECK (command IN ('block', 'unblock', 'escalate', 'close', 'reopen', 'note'));
