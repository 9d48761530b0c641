DROP TABLE IF EXISTS batch_changes;
