ALTER TABLE insight_series ADD COLUMN IF NOT EXISTS group_by text;
ALTER TABLE insight_series ADD COLUMN IF NOT EXISTS generation_method text NOT NULL DEFAULT 'search';
ALTER TABLE insight_series ADD CONSTRAINT insight_series_generation_method_check CHECK (generation_method IN ('search', 'search-compute', 'language-stats', 'mapping-compute')) NOT VALID;
