DROP VIEW IF EXISTS cm_enabled_queries;
