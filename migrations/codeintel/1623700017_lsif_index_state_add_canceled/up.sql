ALTER TYPE lsif_index_state ADD VALUE IF NOT EXISTS 'canceled';
