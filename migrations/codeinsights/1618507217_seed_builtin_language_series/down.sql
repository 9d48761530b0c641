DELETE FROM insight_series WHERE builtin;
