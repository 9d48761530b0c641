ALTER TABLE cm_queries DROP COLUMN IF EXISTS search_context_id;
