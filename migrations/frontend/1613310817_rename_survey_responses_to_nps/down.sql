ALTER TABLE nps_responses RENAME TO survey_responses;
