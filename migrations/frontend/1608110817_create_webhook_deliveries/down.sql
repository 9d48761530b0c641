DROP TABLE IF EXISTS webhook_deliveries;
DROP TYPE IF EXISTS webhook_delivery_state;
