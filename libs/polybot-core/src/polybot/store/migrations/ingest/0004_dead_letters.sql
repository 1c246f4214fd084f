-- Book messages JetStream refused for good (or that could not be encoded): kept for diagnosis, never retried.
-- The asset's consumers see the gap and reload from the snapshot queued in its place.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial   PRIMARY KEY,
    subject     text        NOT NULL,
    msg_id      text        NOT NULL,
    asset_id    text,
    reason      text        NOT NULL,
    payload     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letters_created_at ON dead_letters (created_at);
