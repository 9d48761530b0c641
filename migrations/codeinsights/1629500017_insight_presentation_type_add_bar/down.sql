ALTER TYPE insight_presentation_type RENAME TO insight_presentation_type_old;
CREATE TYPE insight_presentation_type AS ENUM ('line', 'pie');
ALTER TABLE insight_view ALTER COLUMN presentation_type DROP DEFAULT;
ALTER TABLE insight_view ALTER COLUMN presentation_type TYPE insight_presentation_type
    USING (CASE presentation_type::text WHEN 'bar' THEN 'line' ELSE presentation_type::text END)::insight_presentation_type;
ALTER TABLE insight_view ALTER COLUMN presentation_type SET DEFAULT 'line';
DROP TYPE insight_presentation_type_old;
