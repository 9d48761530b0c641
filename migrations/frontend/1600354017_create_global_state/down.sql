DROP TABLE IF EXISTS global_state;
