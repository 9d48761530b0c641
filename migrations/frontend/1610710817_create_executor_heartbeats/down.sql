DROP TABLE IF EXISTS executor_heartbeats;
