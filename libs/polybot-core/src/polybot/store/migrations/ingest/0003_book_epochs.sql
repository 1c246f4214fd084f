-- The book feed's epochs: every book_events row, snapshot and status row says which epoch of the asset's
-- feed it belongs to. (epoch, seq) never goes back per asset; a restarted ingestor starts after the
-- highest it finds here, in market_status and on the bus. Rows written before this migration are epoch 0.
ALTER TABLE book_events ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE book_events ADD COLUMN IF NOT EXISTS reset boolean NOT NULL DEFAULT false;
ALTER TABLE book_snapshots ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE book_snapshots ADD COLUMN IF NOT EXISTS verified boolean NOT NULL DEFAULT true;
ALTER TABLE market_status ADD COLUMN IF NOT EXISTS last_epoch bigint NOT NULL DEFAULT 0;
