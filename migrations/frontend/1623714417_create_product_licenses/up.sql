CREATE TABLE IF NOT EXISTS product_licenses (
    id uuid NOT NULL PRIMARY KEY,
    product_subscription_id uuid NOT NULL,
    license_key text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    license_version integer,
    license_tags text[],
    license_user_count integer,
    license_expires_at timestamp with time zone
);
CREATE INDEX IF NOT EXISTS product_licenses_subscription_idx ON product_licenses (product_subscription_id);
