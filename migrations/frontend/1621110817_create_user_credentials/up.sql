CREATE TABLE IF NOT EXISTS user_credentials (
    id bigserial PRIMARY KEY,
    domain text NOT NULL,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE,
    external_service_type text NOT NULL,
    external_service_id text NOT NULL,
    credential bytea NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT user_credentials_domain_user_id_external_service_type_exter_key UNIQUE (domain, user_id, external_service_type, external_service_id)
);
