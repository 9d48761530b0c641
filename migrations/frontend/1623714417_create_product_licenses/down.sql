DROP TABLE IF EXISTS product_licenses;
