DROP TABLE IF EXISTS outbound_webhooks;
