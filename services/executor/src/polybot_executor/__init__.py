"""Polybot executor service."""
