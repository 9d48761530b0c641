DROP TABLE IF EXISTS saved_searches;
