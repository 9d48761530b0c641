SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(backfill_completed_at)::float8 / count(*) END
FROM insight_series
WHERE builtin;
