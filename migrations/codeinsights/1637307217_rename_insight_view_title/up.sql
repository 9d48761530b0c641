ALTER TABLE insight_view RENAME COLUMN title TO name;
