ALTER TABLE survey_responses RENAME TO nps_responses;
