-- Book tables owned by the ingestor (also written by `polybot.cli replay --db-url postgresql://…`).
-- bids/asks: JSON arrays of [price, size] venue strings, best first.
CREATE TABLE IF NOT EXISTS book_events (
    asset_id    text   NOT NULL,
    seq         bigint NOT NULL,
    market      text,
    ts_ms       bigint,
    recv_ts_ms  bigint,
    event_type  text,
    payload     jsonb,
    PRIMARY KEY (asset_id, seq)
);

CREATE TABLE IF NOT EXISTS book_snapshots (
    asset_id        text        NOT NULL,
    seq             bigint      NOT NULL,
    ts_ms           bigint      NOT NULL,
    market          text,
    bids            jsonb,
    asks            jsonb,
    tick_size       numeric,
    min_order_size  numeric,
    neg_risk        boolean,
    hash            text,
    reason          text,
    created_at      timestamptz DEFAULT now(),
    PRIMARY KEY (asset_id, seq, ts_ms)
);

CREATE TABLE IF NOT EXISTS market_status (
    asset_id            text PRIMARY KEY,
    market              text,
    last_seq            bigint,
    last_update_ts_ms   bigint,
    snapshots           bigint,
    deltas              bigint,
    state               text,
    resync_first_delta  bigint,
    resync_gap          bigint,
    resync_checksum     bigint,
    resync_tick_size    bigint,
    updated_at          timestamptz DEFAULT now()
);
