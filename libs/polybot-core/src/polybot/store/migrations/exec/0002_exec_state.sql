-- The executor's state survives restarts: why an order ended, what a fill cost, what a position has made.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS order_type text NOT NULL DEFAULT 'GTC';
ALTER TABLE orders ADD COLUMN IF NOT EXISTS post_only boolean NOT NULL DEFAULT true;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS end_reason text;  -- replaced, pulled, kill_switch, reconcile, filled
ALTER TABLE orders ADD COLUMN IF NOT EXISTS error text;

ALTER TABLE fills ADD COLUMN IF NOT EXISTS fee_usdc numeric NOT NULL DEFAULT 0;
ALTER TABLE fills ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS fills_market_ts ON fills (market, ts_ms);

ALTER TABLE positions ADD COLUMN IF NOT EXISTS cost_usdc numeric NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN IF NOT EXISTS realized_usdc numeric NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN IF NOT EXISTS fees_usdc numeric NOT NULL DEFAULT 0;
