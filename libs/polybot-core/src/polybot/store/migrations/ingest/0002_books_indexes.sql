-- Retention: the scheduler prunes book_events by venue time (ts_ms) and old book_snapshots by created_at.
CREATE INDEX IF NOT EXISTS book_events_ts_ms ON book_events (ts_ms);
CREATE INDEX IF NOT EXISTS book_snapshots_created_at ON book_snapshots (created_at);
