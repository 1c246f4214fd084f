"""Pure trading logic: books, hashes, quoting, risk, reconciliation. No I/O, no clock, no logging."""
