SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(stars)::float8 / count(*) END FROM repo;
