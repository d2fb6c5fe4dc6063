-- 005_verdict_class: what a verdict means for the workflow, for SQL.
-- Mirrors the class column of the engine's verdict table
-- (probe-engine/result.c); test_scheduler checks that the two agree for every
-- verdict. Queries ask verdict_class(v) instead of listing verdict names.
CREATE FUNCTION verdict_class(v verdict) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE v
        WHEN 'no_smtp' THEN 'clean'
        WHEN 'rejected_banner' THEN 'clean'
        WHEN 'closed' THEN 'clean'
        WHEN 'tempfail' THEN 'inconclusive'
        WHEN 'error' THEN 'inconclusive'
        WHEN 'accepted' THEN 'inconclusive'
        WHEN 'accepted_not_relayed' THEN 'finding'
        WHEN 'relay_confirmed' THEN 'finding'
    END
$$;
