DROP TABLE IF EXISTS access_requests;
