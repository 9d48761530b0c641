CREATE TABLE IF NOT EXISTS access_requests (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email citext NOT NULL,
    additional_info text,
    status text NOT NULL DEFAULT 'PENDING',
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    decision_by_user_id integer REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT access_requests_email_key UNIQUE (email),
    CONSTRAINT access_requests_status_check CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED'))
);
CREATE INDEX IF NOT EXISTS access_requests_created_at ON access_requests (created_at);
