CREATE TABLE IF NOT EXISTS search_contexts (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL,
    public boolean NOT NULL,
    namespace_user_id integer REFERENCES users (id) ON DELETE CASCADE,
    namespace_org_id integer REFERENCES orgs (id) ON DELETE CASCADE,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    query text,
    CONSTRAINT search_contexts_has_one_or_no_namespace CHECK (namespace_user_id IS NULL OR namespace_org_id IS NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS search_contexts_name_without_namespace_unique ON search_contexts (name) WHERE namespace_user_id IS NULL AND namespace_org_id IS NULL;
CREATE TABLE IF NOT EXISTS search_context_repos (
    search_context_id bigint NOT NULL REFERENCES search_contexts (id) ON DELETE CASCADE,
    repo_id integer NOT NULL REFERENCES repo (id) ON DELETE CASCADE,
    revision text NOT NULL,
    CONSTRAINT search_context_repos_unique UNIQUE (repo_id, search_context_id, revision)
);
