ALTER TABLE users DROP COLUMN IF EXISTS billing_customer_id;
