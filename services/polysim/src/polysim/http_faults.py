"""Injectable HTTP faults for polysim. Stub; being built."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def install(app: FastAPI, ctx: Any) -> None:
    """Install the fault-injection middleware and its admin route on ``app``."""
