-- Errors of a plan's execution, apart from the acks (a venue outage has no ack to carry it).
ALTER TABLE exec_audit ADD COLUMN IF NOT EXISTS errors jsonb NOT NULL DEFAULT '[]'::jsonb;
