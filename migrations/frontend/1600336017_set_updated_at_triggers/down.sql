DROP TRIGGER IF EXISTS orgs_set_updated_at ON orgs;
DROP TRIGGER IF EXISTS users_set_updated_at ON users;
DROP FUNCTION IF EXISTS set_updated_at();
