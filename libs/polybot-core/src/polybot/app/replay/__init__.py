"""Offline replay of recorded market-channel frames through the same book state machine (``run``)."""
