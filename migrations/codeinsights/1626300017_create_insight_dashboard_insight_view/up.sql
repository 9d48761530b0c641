CREATE TABLE IF NOT EXISTS insight_dashboard_insight_view (
    id serial PRIMARY KEY,
    dashboard_id integer NOT NULL REFERENCES insight_dashboard (id) ON DELETE CASCADE,
    insight_view_id integer NOT NULL REFERENCES insight_view (id) ON DELETE CASCADE,
    CONSTRAINT unique_dashboard_id_insight_view_id UNIQUE (dashboard_id, insight_view_id)
);
CREATE INDEX IF NOT EXISTS dashboard_insight_view_dashboard_id_fk_idx ON insight_dashboard_insight_view (dashboard_id);
CREATE INDEX IF NOT EXISTS dashboard_insight_view_insight_view_id_fk_idx ON insight_dashboard_insight_view (insight_view_id);
