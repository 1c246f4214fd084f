"""Polybot quoter service."""
