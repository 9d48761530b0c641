ALTER TABLE lsif_uploads ADD COLUMN IF NOT EXISTS content_type text NOT NULL DEFAULT 'application/x-ndjson+lsif';
