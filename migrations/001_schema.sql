-- 001_schema: the whole model of shared/DESIGN.md.
-- Sized for a million targets and many millions of probes: the due-target
-- index is partial and ordered as the claim query reads it, ranges are
-- queried through GiST indexes on inet, and probe rows are pruned by age
-- (probes_started_idx) while cases keep the evidence they were opened on.

CREATE TYPE verdict AS ENUM (
    'no_smtp', 'rejected_banner', 'closed', 'tempfail', 'accepted',
    'accepted_not_relayed', 'relay_confirmed', 'error');

CREATE TYPE backscatter_result AS ENUM ('untested', 'refused', 'accepted', 'confirmed');

CREATE TYPE case_state AS ENUM (
    'open', 'notified', 'blocked', 'escalated', 'resolved', 'closed');

CREATE TYPE api_role AS ENUM ('viewer', 'operator', 'admin');

-- Executor rows (outbox, enforcement) move through these states.
CREATE TYPE job_state AS ENUM ('pending', 'running', 'done', 'failed');

CREATE TABLE customers (
    id            bigserial PRIMARY KEY,
    ext_id        text NOT NULL UNIQUE
                  CHECK (ext_id ~ '^[A-Za-z0-9._:@/-]{1,128}$'),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 256),
    contact_email text NOT NULL
                  CHECK (contact_email ~ '^[^@\s<>",;]{1,64}@[A-Za-z0-9.-]{1,253}$'),
    locale        text NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    -- How the customer reaches the network; picks the enforcement mode.
    access_type   text NOT NULL DEFAULT 'business'
                  CHECK (access_type ~ '^[a-z0-9_]{1,32}$'),
    enforce_mode  text CHECK (enforce_mode IN ('port25_inbound', 'smarthost')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sweeps (
    id            bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT 'system',
    scope         text NOT NULL CHECK (scope IN ('all', 'cidr', 'customer')),
    cidr          cidr,
    customer_id   bigint REFERENCES customers(id) ON DELETE SET NULL,
    priority      smallint NOT NULL DEFAULT 1,
    total         integer NOT NULL DEFAULT 0,
    done          integer NOT NULL DEFAULT 0,
    finished_at   timestamptz
);

CREATE TABLE targets (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    address         inet NOT NULL UNIQUE CHECK (masklen(address) = CASE family(address)
                                                 WHEN 4 THEN 32 ELSE 128 END),
    ports           integer[] NOT NULL DEFAULT '{25,587}'
                    CHECK (cardinality(ports) BETWEEN 1 AND 8 AND 0 < ALL (ports)
                           AND 65536 > ALL (ports)),
    domains         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(domains) <= 32),
    excluded        boolean NOT NULL DEFAULT false,
    probe_interval  interval,           -- NULL: the configured probe_interval
    -- Scheduling: due when next_probe_at <= now(); higher priority first:
    -- 3 re-test request or complaint, 2 DNSBL trigger, 1 sweep, 0 periodic.
    next_probe_at   timestamptz NOT NULL DEFAULT now(),
    priority        smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
    lease_owner     text,
    lease_expires   timestamptz,
    sweep_id        bigint REFERENCES sweeps(id) ON DELETE SET NULL,
    last_probe_id   bigint,
    last_probed_at  timestamptz,
    last_verdict    verdict,
    last_backscatter backscatter_result,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The claim query: WHERE NOT excluded AND next_probe_at <= now()
-- ORDER BY priority DESC, next_probe_at ... FOR UPDATE SKIP LOCKED.
CREATE INDEX targets_due_idx ON targets (priority DESC, next_probe_at) WHERE NOT excluded;
CREATE INDEX targets_lease_idx ON targets (lease_expires) WHERE lease_owner IS NOT NULL;
CREATE INDEX targets_address_gist ON targets USING gist (address inet_ops);
CREATE INDEX targets_customer_idx ON targets (customer_id);
CREATE INDEX targets_verdict_idx ON targets (last_verdict);
CREATE INDEX targets_sweep_idx ON targets (sweep_id) WHERE sweep_id IS NOT NULL;

CREATE TABLE probes (
    id            bigserial PRIMARY KEY,
    target_id     bigint REFERENCES targets(id) ON DELETE SET NULL,
    address       inet NOT NULL,
    port          integer NOT NULL,
    node          text NOT NULL DEFAULT '',
    sweep_id      bigint,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    duration_ms   integer,
    verdict       verdict,              -- NULL while running
    backscatter   backscatter_result NOT NULL DEFAULT 'untested',
    trick         text,                 -- "sender/form" of the first success
    stage         text,                 -- the dialogue stage that decided it
    error         text,
    banner        text,
    -- Everything else: EHLO reply, every attempt, the bounded transcript.
    evidence      jsonb NOT NULL DEFAULT '{}',
    -- An accepted probe waits for the sink until confirm_deadline.
    confirm_deadline timestamptz,
    confirmed_at  timestamptz
);
CREATE INDEX probes_target_idx ON probes (target_id, started_at DESC);
CREATE INDEX probes_started_idx ON probes (started_at);
CREATE INDEX probes_verdict_idx ON probes (verdict, started_at DESC);
CREATE INDEX probes_pending_confirm_idx ON probes (confirm_deadline)
    WHERE verdict = 'accepted' OR backscatter = 'accepted';

-- Attempts that got past RCPT (accepted, deferred, relayed) are kept as rows
-- so receipts join to them; every attempt, refused ones included, is also in
-- probes.evidence. Keeping ~100 refused-attempt rows per probe would make
-- the table 100x the probes for no query that needs them.
CREATE TABLE probe_attempts (
    probe_id      bigint NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
    idx           smallint NOT NULL,
    sender        text NOT NULL,
    form          text NOT NULL,
    backscatter   boolean NOT NULL DEFAULT false,
    mail_from     text NOT NULL,
    rcpt_to       text NOT NULL,
    token         text NOT NULL,
    mail_code     smallint,
    rcpt_code     smallint,
    data_code     smallint,
    eod_code      smallint,
    stage         text NOT NULL,
    outcome       text NOT NULL,
    PRIMARY KEY (probe_id, idx)
);
CREATE INDEX probe_attempts_token_idx ON probe_attempts (token);

CREATE TABLE sink_receipts (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    node          text NOT NULL DEFAULT '',
    peer          inet NOT NULL,
    helo          text NOT NULL DEFAULT '',
    mail_from     text NOT NULL DEFAULT '',
    rcpts         text[] NOT NULL DEFAULT '{}',
    is_bounce     boolean NOT NULL DEFAULT false,
    probe_id      bigint,               -- the verified token's probe, if any
    attempt       smallint,
    token_where   text,                 -- rcpt, subject, message-id, dsn
    forged_tokens integer NOT NULL DEFAULT 0,
    received_chain text NOT NULL DEFAULT '',
    excerpt       text NOT NULL DEFAULT '',
    size          integer NOT NULL DEFAULT 0,
    applied       boolean NOT NULL DEFAULT false  -- correlated into its probe
);
CREATE INDEX sink_receipts_probe_idx ON sink_receipts (probe_id);
CREATE INDEX sink_receipts_unapplied_idx ON sink_receipts (id) WHERE NOT applied;

CREATE TABLE cases (
    id            bigserial PRIMARY KEY,
    target_id     bigint REFERENCES targets(id) ON DELETE SET NULL,
    customer_id   bigint REFERENCES customers(id) ON DELETE SET NULL,
    address       inet NOT NULL,
    state         case_state NOT NULL DEFAULT 'open',
    finding       text NOT NULL,        -- relay_confirmed, accepted_not_relayed, backscatter, complaint
    probe_id      bigint,               -- the probe that opened it
    trick         text,
    blocked       boolean NOT NULL DEFAULT false,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    notified_at   timestamptz,
    blocked_at    timestamptz,
    escalated_at  timestamptz,
    resolved_at   timestamptz,
    closed_at     timestamptz,
    -- Timers: the workflow runner fires the reminder or escalation then.
    next_timer_at timestamptz,
    last_retest_at timestamptz,         -- rate limit of customers' re-test links
    -- The opening evidence survives probe pruning.
    evidence      jsonb NOT NULL DEFAULT '{}'
);
-- At most one active case per address.
CREATE UNIQUE INDEX cases_active_idx ON cases (address)
    WHERE state NOT IN ('resolved', 'closed');
CREATE INDEX cases_state_idx ON cases (state, opened_at);
CREATE INDEX cases_timer_idx ON cases (next_timer_at) WHERE next_timer_at IS NOT NULL;
CREATE INDEX cases_address_gist ON cases USING gist (address inet_ops);

-- Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE case_events (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    at            timestamptz NOT NULL DEFAULT now(),
    event         text NOT NULL,
    from_state    case_state,
    to_state      case_state NOT NULL,
    actor         text NOT NULL,        -- system, token:NAME, customer-link
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case_idx ON case_events (case_id, id);

CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only';
END $$;
CREATE TRIGGER case_events_no_update BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

-- Notification mails, delivered once: the idempotency key is unique, and the
-- Message-ID is fixed when the row is queued so a redelivery is recognisable.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    case_id         bigint REFERENCES cases(id) ON DELETE SET NULL,
    idempotency_key text NOT NULL UNIQUE,
    kind            text NOT NULL,      -- template name
    locale          text NOT NULL DEFAULT 'en',
    to_addr         text NOT NULL,
    subject         text NOT NULL,
    message_id      text NOT NULL,
    body            text NOT NULL,      -- the whole RFC 5322 message
    state           job_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state IN ('pending', 'running');

CREATE TABLE enforcement_actions (
    id              bigserial PRIMARY KEY,
    case_id         bigint REFERENCES cases(id) ON DELETE SET NULL,
    idempotency_key text NOT NULL UNIQUE,
    action          text NOT NULL CHECK (action IN ('block', 'unblock', 'escalate')),
    address         inet NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('port25_inbound', 'smarthost')),
    state           job_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX enforcement_due_idx ON enforcement_actions (next_attempt_at)
    WHERE state IN ('pending', 'running');
CREATE INDEX enforcement_address_idx ON enforcement_actions (address, id DESC);

CREATE TABLE complaints (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    address       inet NOT NULL,
    source        text NOT NULL DEFAULT '',
    raw           text NOT NULL DEFAULT '' CHECK (length(raw) <= 1048576),
    actor         text NOT NULL,
    case_id       bigint REFERENCES cases(id) ON DELETE SET NULL,
    processed_at  timestamptz           -- taken up by the workflow runner
);
CREATE INDEX complaints_address_idx ON complaints USING gist (address inet_ops);
CREATE INDEX complaints_unprocessed_idx ON complaints (id) WHERE processed_at IS NULL;

-- Operator actions on cases, written by the API or relayctl and applied by
-- the workflow runner (PostgreSQL is the only bus between components).
CREATE TABLE case_commands (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    command       text NOT NULL CHECK (command IN ('block', 'unblock', 'close', 'reopen', 'note')),
    note          text NOT NULL DEFAULT '' CHECK (length(note) <= 65536),
    actor         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    applied_at    timestamptz,
    result        text                  -- "ok" or why it was refused
);
CREATE INDEX case_commands_pending_idx ON case_commands (id) WHERE applied_at IS NULL;

-- Operator or customer re-test requests, followed by GET /v1/retests/{id}.
CREATE TABLE retest_requests (
    id            bigserial PRIMARY KEY,
    target_id     bigint NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    case_id       bigint REFERENCES cases(id) ON DELETE SET NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    requested_by  text NOT NULL,
    probe_id      bigint,               -- set when the probe that answers it finishes
    done_at       timestamptz
);
CREATE INDEX retest_requests_pending_idx ON retest_requests (target_id) WHERE done_at IS NULL;

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    role          api_role NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,  -- SHA-256 of the token; the token is shown once
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- Which daemons are alive, for `relayctl status` and /v1/health.
CREATE TABLE nodes (
    name          text PRIMARY KEY,
    roles         text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    in_flight     integer NOT NULL DEFAULT 0
);
