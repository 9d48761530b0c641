CREATE TABLE IF NOT EXISTS codeintel_path_ranks (
    repository_id integer NOT NULL,
    precision double precision NOT NULL,
    payload jsonb NOT NULL,
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT codeintel_path_ranks_repository_id_precision UNIQUE (repository_id, precision)
);
DROP TRIGGER IF EXISTS codeintel_path_ranks_set_updated_at ON codeintel_path_ranks;
CREATE TRIGGER codeintel_path_ranks_set_updated_at BEFORE UPDATE ON codeintel_path_ranks FOR EACH ROW EXECUTE FUNCTION codeintel_set_updated_at();
