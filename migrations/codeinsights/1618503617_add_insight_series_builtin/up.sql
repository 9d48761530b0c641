ALTER TABLE insight_series ADD COLUMN IF NOT EXISTS builtin boolean NOT NULL DEFAULT false;
ALTER TABLE insight_series ADD COLUMN IF NOT EXISTS repositories text[];
