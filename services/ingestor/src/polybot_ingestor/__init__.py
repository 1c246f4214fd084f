"""Polybot ingestor service."""
