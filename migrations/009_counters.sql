-- Counters that only grow: events are counted when they happen (statement
-- triggers on the rows' arrival), so pruning old rows (retention) never makes
-- a Prometheus counter go down. /metrics reads these rows, not row counts.
CREATE TABLE metric_counters (
    name    text NOT NULL,
    labels  text NOT NULL DEFAULT '',   -- Prometheus label pairs, e.g. verdict="closed"
    value   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (name, labels)
);

-- The probe duration histogram's bucket bounds in milliseconds: the one place they live.
CREATE FUNCTION probe_duration_le(ms integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(b::text, 'inf') FROM (SELECT (ARRAY[100, 250, 500, 1000, 2500, 5000, 10000,
        30000, 60000, 300000])[width_bucket(ms - 1, ARRAY[100, 250, 500, 1000, 2500, 5000, 10000,
        30000, 60000, 300000]) + 1] AS b) x
$$;

CREATE FUNCTION metric_counters_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'probes' THEN
        INSERT INTO metric_counters (name, labels, value)
        SELECT 'probes', 'verdict="' || verdict || '"', count(*) FROM new_rows
         WHERE verdict IS NOT NULL GROUP BY verdict
        UNION ALL
        SELECT 'probe_duration_le', probe_duration_le(duration_ms), count(*) FROM new_rows
         WHERE duration_ms IS NOT NULL GROUP BY 2
        UNION ALL
        SELECT 'probe_duration_ms_sum', '', sum(duration_ms) FROM new_rows
        HAVING count(duration_ms) > 0
        ON CONFLICT (name, labels) DO UPDATE SET value = metric_counters.value + EXCLUDED.value;
    ELSIF TG_TABLE_NAME = 'sink_receipts' THEN
        INSERT INTO metric_counters (name, labels, value)
        SELECT 'sink_receipts', 'bounce="' || is_bounce || '"', count(*) FROM new_rows GROUP BY is_bounce
        ON CONFLICT (name, labels) DO UPDATE SET value = metric_counters.value + EXCLUDED.value;
    ELSIF TG_TABLE_NAME = 'complaints' THEN
        INSERT INTO metric_counters (name, labels, value)
        SELECT 'complaints', '', count(*) FROM new_rows HAVING count(*) > 0
        ON CONFLICT (name, labels) DO UPDATE SET value = metric_counters.value + EXCLUDED.value;
    ELSIF TG_TABLE_NAME = 'dnsbl_listings' THEN
        INSERT INTO metric_counters (name, labels, value)
        SELECT 'dnsbl_listings', 'zone="' || zone || '"', count(*) FROM new_rows GROUP BY zone
        ON CONFLICT (name, labels) DO UPDATE SET value = metric_counters.value + EXCLUDED.value;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER probes_counted AFTER INSERT ON probes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_counters_add();
CREATE TRIGGER sink_receipts_counted AFTER INSERT ON sink_receipts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_counters_add();
CREATE TRIGGER complaints_counted AFTER INSERT ON complaints REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_counters_add();
CREATE TRIGGER dnsbl_listings_counted AFTER INSERT ON dnsbl_listings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_counters_add();

-- Every bucket exists from the start (a histogram shows all its buckets), and
-- the counters start where the rows kept so far are.
INSERT INTO metric_counters (name, labels, value)
SELECT 'probe_duration_le', b, 0 FROM unnest(ARRAY['100', '250', '500', '1000', '2500', '5000',
    '10000', '30000', '60000', '300000', 'inf']) b
UNION ALL SELECT 'probe_duration_ms_sum', '', 0
UNION ALL SELECT 'complaints', '', 0;
UPDATE metric_counters m SET value = x.n FROM (
    SELECT 'probes' AS name, 'verdict="' || verdict || '"' AS labels, count(*) AS n FROM probes
     WHERE verdict IS NOT NULL GROUP BY verdict
    UNION ALL SELECT 'probe_duration_le', probe_duration_le(duration_ms), count(*) FROM probes
     WHERE duration_ms IS NOT NULL GROUP BY 2
    UNION ALL SELECT 'probe_duration_ms_sum', '', coalesce(sum(duration_ms), 0) FROM probes
    UNION ALL SELECT 'complaints', '', count(*) FROM complaints
) x WHERE m.name = x.name AND m.labels = x.labels;
INSERT INTO metric_counters (name, labels, value)
SELECT 'probes', 'verdict="' || verdict || '"', count(*) FROM probes WHERE verdict IS NOT NULL GROUP BY verdict
UNION ALL SELECT 'sink_receipts', 'bounce="' || is_bounce || '"', count(*) FROM sink_receipts GROUP BY is_bounce
ON CONFLICT (name, labels) DO NOTHING;
