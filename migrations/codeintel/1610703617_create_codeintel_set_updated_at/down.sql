DROP TRIGGER IF EXISTS lsif_configuration_policies_set_updated_at ON lsif_configuration_policies;
DROP FUNCTION IF EXISTS codeintel_set_updated_at();
