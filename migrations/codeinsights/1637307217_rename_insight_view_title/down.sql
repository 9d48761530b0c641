ALTER TABLE insight_view RENAME COLUMN name TO title;
