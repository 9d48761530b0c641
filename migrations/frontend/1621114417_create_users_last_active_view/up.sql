CREATE OR REPLACE VIEW users_last_active AS
    SELECT e.user_id, max(e."timestamp") AS last_active_at
    FROM event_logs e
    WHERE e.user_id <> 0
    GROUP BY e.user_id;
COMMENT ON VIEW users_last_active IS 'Last product usage event per signed-in user.';
