SELECT CASE WHEN count(*) = 0 THEN 1 ELSE count(email_lower)::float8 / count(*) END FROM user_emails;
