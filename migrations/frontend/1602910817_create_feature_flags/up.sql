CREATE TYPE feature_flag_type AS ENUM ('bool', 'rollout');
CREATE TABLE IF NOT EXISTS feature_flags (
    flag_name text NOT NULL PRIMARY KEY,
    flag_type feature_flag_type NOT NULL,
    bool_value boolean,
    rollout integer,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    deleted_at timestamp with time zone,
    CONSTRAINT feature_flags_rollout_check CHECK (rollout >= 0 AND rollout <= 10000),
    CONSTRAINT required_bool_fields CHECK (flag_type <> 'bool' OR bool_value IS NOT NULL),
    CONSTRAINT required_rollout_fields CHECK (flag_type <> 'rollout' OR rollout IS NOT NULL)
);
DROP TRIGGER IF EXISTS feature_flags_set_updated_at ON feature_flags;
CREATE TRIGGER feature_flags_set_updated_at BEFORE UPDATE ON feature_flags FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON COLUMN feature_flags.rollout IS 'Rollout in basis points (0 to 10000).';
