CREATE OR REPLACE FUNCTION codeintel_set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS lsif_configuration_policies_set_updated_at ON lsif_configuration_policies;
CREATE TRIGGER lsif_configuration_policies_set_updated_at BEFORE UPDATE ON lsif_configuration_policies FOR EACH ROW EXECUTE FUNCTION codeintel_set_updated_at();
