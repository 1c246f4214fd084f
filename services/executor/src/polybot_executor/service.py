"""The executor service: ``polybot.app.execute`` under the service lifecycle.

``mode`` (``paper`` | ``sim`` | ``live``, see ``polybot.app.execute.mode``) picks the backend; live mode
without both opt-ins refuses to start (``preflight``). ``/status`` shows the mode, the kill switch, risk
halts, open orders and the last plan per market; ``/readyz`` adds ``task:<name>`` for every supervised
loop. ``POST /kill`` (``{"reason": "...", "clear": false}``, header ``Authorization: Bearer <kill_token>``)
engages or clears the kill switch for every executor and quoter (it is published on ``pb.ctl.kill``).
``POST /risk/clear`` (``{"scope": "<condition id>" | "*", "reason": "..."}``, no scope: every breach; the same
token) clears this executor's risk halts (as ``polybot risk --clear``).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from typing import Any, ClassVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from polybot.app.execute.gateways import open_gateway
from polybot.app.execute.mode import mode_problem
from polybot.app.execute.pipeline import TASKS, Executor
from polybot.app.execute.risk_desk import breach_info
from polybot.app.execute.upkeep import default_loops, reconcile_once
from polybot.bus import subjects
from polybot.bus.messages import KillSwitch
from polybot.runtime.clock import now_ms
from polybot.runtime.lifecycle import ServiceContext
from polybot.runtime.settings import Settings

log = logging.getLogger(__name__)


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a request (an empty one when it has none, or not an object)."""
    with contextlib.suppress(ValueError):
        parsed = await request.json()
        return parsed if isinstance(parsed, dict) else {}
    return {}


class ExecutorService:
    name: ClassVar[str] = "executor"
    migration_owners: ClassVar[tuple[str, ...]] = ("exec",)

    def __init__(self) -> None:
        self.executor: Executor | None = None

    @staticmethod
    def preflight(settings: Settings) -> str | None:
        return mode_problem(settings)

    async def run(self, ctx: ServiceContext) -> None:
        bus, pool = ctx.require()
        logging.getLogger("httpx").setLevel(logging.WARNING)
        # Red until the plan consumer and the loops run: the gateway's client, the state load and the first
        # reconciliation come before, and their time must not read as ready (the task checks come later).
        consuming = False

        async def started() -> bool:
            return consuming

        ctx.extra_ready["executor:started"] = started
        async with open_gateway(ctx.settings, bus) as (gateway, extra_loops):
            ex = Executor(ctx.settings, ctx.metrics, bus=bus, pool=pool, gateway=gateway)
            self.executor = ex
            for task in (*TASKS, *(name for name, _ in extra_loops(ex))):
                ctx.extra_ready[f"task:{task}"] = ex.supervisor.check(task)
            await ex.load_state()
            await reconcile_once(ex, "start")
            await ex.start(lambda e: [*default_loops(e), *extra_loops(e)])
            consuming = True
            try:
                await ctx.stopping.wait()
            finally:
                await ex.stop()

    async def status(self) -> dict[str, Any]:
        if self.executor is None:
            return {"started": False}
        return {"started": True, **self.executor.status()}

    def ops_router(self, ctx: ServiceContext) -> APIRouter:
        router = APIRouter()
        token = ctx.settings.executor.kill_token

        def _refused(request: Request) -> JSONResponse | None:
            if token is None:
                return JSONResponse({"error": f"POST {request.url.path} is disabled: set executor.kill_token "
                                              "(POLYBOT_EXECUTOR__KILL_TOKEN)"}, status_code=403)
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
                return JSONResponse({"error": "wrong or missing kill token"}, status_code=401)
            return None

        async def kill(request: Request) -> JSONResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            body = await _body(request)
            clear = body.get("clear") is True
            reason = str(body.get("reason") or ("cleared over /kill" if clear else "engaged over /kill"))[:200]
            msg = KillSwitch(engaged=not clear, reason=reason, ts_ms=now_ms())
            if ctx.bus is not None:
                await ctx.bus.publish(subjects.CTL_KILL, msg, msg_id=f"kill:{msg.ts_ms}:{msg.engaged}")
            canceled = 0
            if self.executor is not None:  # at once, not only when our own subscription hears it back
                await self.executor.set_kill(msg.engaged, reason)
                canceled = len(self.executor.orders.by_id)
            return JSONResponse({"engaged": msg.engaged, "reason": reason, "open_orders": canceled})

        async def risk_clear(request: Request) -> JSONResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            body = await _body(request)
            scope = body.get("scope")
            if scope is not None and not isinstance(scope, str):
                return JSONResponse({"error": "scope must be a condition id, \"*\" or absent (every breach)"},
                                    status_code=400)
            if self.executor is None:
                return JSONResponse({"error": "the executor has not started"}, status_code=503)
            reason = str(body.get("reason") or "cleared over /risk/clear")[:200]
            cleared = await self.executor.risk.clear(scope, f"operator: {reason}")
            return JSONResponse({"cleared": [breach_info(b).model_dump(mode="json") for b in cleared],
                                 **self.executor.risk.status()})

        router.add_api_route("/kill", kill, methods=["POST"])
        router.add_api_route("/risk/clear", risk_clear, methods=["POST"])
        return router
