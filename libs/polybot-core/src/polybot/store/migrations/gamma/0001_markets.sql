-- The market set, owned by gamma-sync. Rows are never deleted: a market that closes is marked closed, one
-- that disappears from Gamma gets missing_since. The ingestor reads markets(condition_id, tick_size,
-- min_order_size, neg_risk, closed, selected_for_making) and outcomes(token_id, condition_id, outcome,
-- outcome_index): keep those names.
CREATE TABLE IF NOT EXISTS events (
    event_id      text        PRIMARY KEY,
    slug          text,
    title         text,
    active        boolean     NOT NULL,
    closed        boolean     NOT NULL,
    end_date      timestamptz,
    neg_risk      boolean     NOT NULL DEFAULT false,
    tag_ids       text[]      NOT NULL DEFAULT '{}',
    raw           jsonb       NOT NULL,
    content_hash  text        NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS markets (
    condition_id         text        PRIMARY KEY,
    gamma_id             text,
    event_id             text,
    question             text        NOT NULL,
    slug                 text,
    end_date             timestamptz,
    active               boolean     NOT NULL,
    closed               boolean     NOT NULL,
    accepting_orders     boolean     NOT NULL,
    enable_order_book    boolean     NOT NULL,
    tick_size            numeric,
    min_order_size       numeric,
    neg_risk             boolean     NOT NULL DEFAULT false,
    order_params_source  text        NOT NULL DEFAULT 'gamma' CHECK (order_params_source IN ('gamma', 'clob')),
    maker_base_fee       numeric,
    taker_base_fee       numeric,
    fees_enabled         boolean,
    liquidity            numeric,
    volume               numeric,
    rewards_min_size     numeric,
    rewards_max_spread   numeric,
    rewards_daily_rate   numeric,
    tag_ids              text[]      NOT NULL DEFAULT '{}',
    raw                  jsonb       NOT NULL,
    selected_for_making  boolean     NOT NULL DEFAULT false,
    selection_reason     text,
    content_hash         text        NOT NULL,  -- of the Gamma record, before CLOB enrichment
    info_hash            text        NOT NULL,  -- of what is published on pb.gamma.market.<condition_id>
    published_hash       text,                  -- info_hash last acknowledged by JetStream
    first_seen           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    missing_since        timestamptz
);
CREATE INDEX IF NOT EXISTS markets_selected ON markets (condition_id) WHERE selected_for_making;
CREATE INDEX IF NOT EXISTS markets_open ON markets (condition_id) WHERE NOT closed AND missing_since IS NULL;
CREATE INDEX IF NOT EXISTS markets_event ON markets (event_id);
CREATE INDEX IF NOT EXISTS markets_slug ON markets (slug);

CREATE TABLE IF NOT EXISTS outcomes (
    token_id       text     PRIMARY KEY,
    condition_id   text     NOT NULL REFERENCES markets (condition_id),
    outcome        text     NOT NULL,
    outcome_index  integer  NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_condition ON outcomes (condition_id);
