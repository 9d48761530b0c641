DROP TABLE IF EXISTS changesets;
DROP SEQUENCE IF EXISTS changesets_display_number_seq;
DROP TYPE IF EXISTS changeset_external_state;
