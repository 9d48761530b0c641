DROP TABLE IF EXISTS feature_flags;
DROP TYPE IF EXISTS feature_flag_type;
