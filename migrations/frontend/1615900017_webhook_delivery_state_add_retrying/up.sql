ALTER TYPE webhook_delivery_state ADD VALUE IF NOT EXISTS 'retrying' AFTER 'pending';
