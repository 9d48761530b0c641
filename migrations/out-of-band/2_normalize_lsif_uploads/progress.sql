SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(indexer_name)::float8 / count(*) END FROM lsif_uploads;
