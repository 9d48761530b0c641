ALTER TABLE users ADD COLUMN IF NOT EXISTS completions_quota integer;
ALTER TABLE users ADD COLUMN IF NOT EXISTS code_completions_quota integer;
COMMENT ON COLUMN users.completions_quota IS 'Per-user override of the chat completions quota; NULL means the site default.';
