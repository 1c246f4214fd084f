-- Orders as the executor placed and tracked them.
CREATE TABLE IF NOT EXISTS orders (
    order_id      text        PRIMARY KEY,
    client_id     text,
    plan_id       text,
    market        text        NOT NULL,
    asset_id      text        NOT NULL,
    side          text        NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price         numeric     NOT NULL,
    size          numeric     NOT NULL,
    size_matched  numeric     NOT NULL DEFAULT 0,
    status        text        NOT NULL,
    backend       text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_market_status ON orders (market, status);

CREATE TABLE IF NOT EXISTS fills (
    fill_id     text        NOT NULL,
    order_id    text        NOT NULL,
    market      text        NOT NULL,
    asset_id    text        NOT NULL,
    side        text        NOT NULL,
    price       numeric     NOT NULL,
    size        numeric     NOT NULL,
    status      text        NOT NULL,
    ts_ms       bigint      NOT NULL,
    PRIMARY KEY (fill_id, order_id)
);

CREATE TABLE IF NOT EXISTS positions (
    asset_id    text        PRIMARY KEY,
    market      text        NOT NULL,
    size        numeric     NOT NULL DEFAULT 0,
    avg_price   numeric,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
