DROP TABLE IF EXISTS lsif_nearest_uploads;
