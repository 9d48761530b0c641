ALTER TABLE insight_series DROP CONSTRAINT IF EXISTS insight_series_generation_method_check;
ALTER TABLE insight_series ADD CONSTRAINT insight_series_generation_method_check CHECK (generation_method IN ('search', 'search-compute', 'language-stats', 'mapping-compute')) NOT VALID;
