-- Risk breaches outlive a restart: a limit that tripped halts again after one, until an operator clears it.
CREATE TABLE IF NOT EXISTS risk_breaches (
    id               bigserial   PRIMARY KEY,
    backend          text        NOT NULL,
    scope            text        NOT NULL,  -- a condition id, or '*' (every market)
    limit_name       text        NOT NULL CHECK (limit_name IN ('position', 'daily_loss', 'error_rate')),
    value            numeric     NOT NULL,
    threshold        numeric     NOT NULL,
    detail           text        NOT NULL DEFAULT '',
    tripped_ts_ms    bigint      NOT NULL,
    cleared_ts_ms    bigint,
    cleared_reason   text,
    cleared_pnl_usdc numeric,  -- a daily-loss clear: the day's PnL the allowance starts again from
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- At most one breach in force per scope and backend (the guard reports a scope once until cleared).
CREATE UNIQUE INDEX IF NOT EXISTS risk_breaches_in_force ON risk_breaches (backend, scope) WHERE cleared_ts_ms IS NULL;

-- The first mark of the UTC day of each token held at the day's start: the day's PnL is measured from it.
CREATE TABLE IF NOT EXISTS risk_day_marks (
    backend   text    NOT NULL,
    day       integer NOT NULL,  -- days since 1970-01-01 (UTC)
    asset_id  text    NOT NULL,
    mark      numeric NOT NULL,
    ts_ms     bigint  NOT NULL,
    PRIMARY KEY (backend, day, asset_id)
);
