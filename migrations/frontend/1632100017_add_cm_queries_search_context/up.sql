ALTER TABLE cm_queries ADD COLUMN IF NOT EXISTS search_context_id bigint REFERENCES search_contexts (id) ON DELETE SET NULL;
