ALTER TYPE insight_presentation_type ADD VALUE IF NOT EXISTS 'bar';
