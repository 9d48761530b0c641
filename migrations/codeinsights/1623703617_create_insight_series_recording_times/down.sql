DROP TABLE IF EXISTS insight_series_recording_times;
