"""The quoting pipeline: published books, markets, positions and the kill switch → quote plans (targets)."""
