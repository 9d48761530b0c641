DROP TABLE IF EXISTS cm_monitors;
