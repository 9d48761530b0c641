CREATE OR REPLACE VIEW insight_dashboard_series AS
    SELECT d.id AS dashboard_id, d.title AS dashboard_title, v.id AS view_id, s.id AS series_id, s.series_id AS series_key,
           (SELECT max(rt.recording_time) FROM insight_series_recording_times rt WHERE rt.insight_series_id = s.id) AS last_recording_time
    FROM insight_dashboard d
    JOIN insight_dashboard_insight_view dv ON dv.dashboard_id = d.id
    JOIN insight_view v ON v.id = dv.insight_view_id
    JOIN insight_view_series vs ON vs.insight_view_id = v.id
    JOIN insight_series s ON s.id = vs.insight_series_id
    WHERE d.deleted_at IS NULL AND s.deleted_at IS NULL;
