ALTER TABLE users ADD COLUMN IF NOT EXISTS billing_customer_id text;
