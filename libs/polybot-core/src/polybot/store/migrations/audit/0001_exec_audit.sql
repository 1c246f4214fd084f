-- The shared execution audit: one row per quote plan the executor handled.
CREATE TABLE IF NOT EXISTS exec_audit (
    id           bigserial   PRIMARY KEY,
    plan_id      text        NOT NULL UNIQUE,
    market       text        NOT NULL,
    plan         jsonb       NOT NULL,
    intents      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    acks         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    outcome      text        NOT NULL,
    duration_ms  double precision NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS exec_audit_market_created ON exec_audit (market, created_at DESC);
