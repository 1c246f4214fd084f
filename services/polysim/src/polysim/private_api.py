"""Polysim's private CLOB REST routes (auth, orders, trades, heartbeats). Stub; being built."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter


def build_private_router(ctx: Any) -> APIRouter:
    """The authenticated CLOB routes, bound to ``ctx`` (a ``SimContext``)."""
    return APIRouter()
