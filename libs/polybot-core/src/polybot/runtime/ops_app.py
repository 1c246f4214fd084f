"""The FastAPI ops app every service serves: ``/healthz``, ``/readyz``, ``/status``, ``/metrics``.

``/healthz`` says the process is alive. ``/readyz`` is green only while NATS and PostgreSQL answer and the
service's migrations are applied; it is red (503) with the failing checks otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from polybot.runtime.metrics import CONTENT_TYPE, Metrics

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
StatusFn = Callable[[], Awaitable[dict[str, Any]]]


def build_ops_app(service: str, ready: ReadyCheck, status: StatusFn, metrics: Metrics) -> FastAPI:
    app = FastAPI(title=f"polybot {service} ops", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "service": service, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/status")
    async def status_() -> JSONResponse:
        return JSONResponse({"service": service, **(await status())})

    @app.get("/metrics")
    async def metrics_() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app
