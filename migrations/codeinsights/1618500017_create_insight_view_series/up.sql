CREATE TABLE IF NOT EXISTS insight_view_series (
    insight_view_id integer NOT NULL REFERENCES insight_view (id) ON DELETE CASCADE,
    insight_series_id integer NOT NULL REFERENCES insight_series (id),
    label text,
    stroke text,
    PRIMARY KEY (insight_view_id, insight_series_id)
);
