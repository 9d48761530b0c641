CREATE TABLE IF NOT EXISTS survey_responses (
    id bigserial PRIMARY KEY,
    user_id integer REFERENCES users (id),
    email text,
    score integer NOT NULL,
    reason text,
    better text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT survey_responses_score_range CHECK (score BETWEEN 0 AND 10)
);
