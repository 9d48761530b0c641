ALTER TABLE repo VALIDATE CONSTRAINT repo_blocked_check;
