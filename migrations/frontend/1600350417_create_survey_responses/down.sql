DROP TABLE IF EXISTS survey_responses;
