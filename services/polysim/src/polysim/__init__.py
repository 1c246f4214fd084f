"""polysim: a local Polymarket (Gamma, CLOB REST, market and user websockets, matching) for tests and demos."""
