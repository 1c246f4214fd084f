-- Gamma's protocol version of a market ("v1" CTF, "v2" Protocol V2) and its fee schedule (the fee source
-- since 2026-03-31). Markets stored before this migration were all v1.
ALTER TABLE markets ADD COLUMN IF NOT EXISTS version text NOT NULL DEFAULT 'v1';
ALTER TABLE markets ADD COLUMN IF NOT EXISTS fee_schedule jsonb;
