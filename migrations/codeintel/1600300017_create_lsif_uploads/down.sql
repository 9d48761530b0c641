DROP TABLE IF EXISTS lsif_uploads;
DROP TYPE IF EXISTS lsif_upload_state;
