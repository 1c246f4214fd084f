"""Polybot gamma-sync service."""
