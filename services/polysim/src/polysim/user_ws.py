"""Polysim's user websocket ``/ws/user``. Stub; being built."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter


def build_user_ws_router(ctx: Any) -> APIRouter:
    """The ``/ws/user`` route, bound to ``ctx`` (a ``SimContext``)."""
    return APIRouter()
