ALTER TABLE users DROP COLUMN IF EXISTS code_completions_quota;
ALTER TABLE users DROP COLUMN IF EXISTS completions_quota;
