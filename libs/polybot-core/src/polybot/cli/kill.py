"""``polybot kill`` and ``polybot cancel-all``: the operator's doors to stop trading now.

``polybot kill [--reason TEXT] [--clear]`` publishes the kill switch on ``pb.ctl.kill`` (JetStream keeps
the last one: an executor or quoter started later still sees it). Every executor cancels all its orders
and holds every market; quoters pull their quotes; it stays engaged until ``--clear``.

``polybot cancel-all [--market CONDITION_ID]`` asks every running executor to cancel its orders now
(request/reply on ``pb.ctl.cancel_all``) and prints what each answered; exit 1 when no executor answered
or one could not cancel everything.

Both find NATS as ``status`` finds the database: ``--nats-url``, else the settings, else a running ``up``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from polybot.cli.failures import EXIT_OK, CliError


def register(sub: Any) -> None:
    k = sub.add_parser("kill", help="engage (or --clear) the kill switch: cancel everything, hold every market")
    k.add_argument("--reason", default="operator", type=reason_text, help="why (kept with the switch)")
    k.add_argument("--clear", action="store_true", help="release the kill switch")
    common_flags(k)
    k.set_defaults(handler=run_kill)


def reason_text(text: str) -> str:
    if not text.strip() or len(text) > 200 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a reason: 1 to 200 printable characters")
    return text.strip()


def common_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--nats-url", default=None, help="nats://… (default: settings, then a running `up`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def nats_url(args: argparse.Namespace) -> tuple[str, str]:
    from polybot.cli.config import load
    from polybot.runtime.infra import shared_infra

    if args.nats_url is not None:
        return str(args.nats_url), "--nats-url"
    settings = load(args.config)
    if settings.nats_url:
        return settings.nats_url, "the nats_url setting"
    shared = shared_infra(settings.state_dir)
    if shared and shared.get("nats_url"):
        return shared["nats_url"], f"the NATS URL in {settings.state_dir / 'infra.json'}"
    raise CliError("no NATS to reach: give --nats-url nats://host:4222, set POLYBOT_NATS_URL, or start "
                   "`polybot up`")


def run_kill(args: argparse.Namespace) -> int:
    from polybot.runtime import eventloop

    url, label = nats_url(args)
    result: dict[str, Any] = eventloop.run(_kill(url, label, not args.clear, args.reason))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"kill switch {'ENGAGED' if result['engaged'] else 'cleared'}: {result['reason']}")
    return EXIT_OK


async def _kill(url: str, label: str, engaged: bool, reason: str) -> dict[str, Any]:
    from polybot.bus import subjects
    from polybot.bus.messages import KillSwitch
    from polybot.cli.connect import connect_bus

    bus = await connect_bus(url, "polybot-kill", label=label)
    try:
        msg = KillSwitch(engaged=engaged, reason=reason, ts_ms=time.time_ns() // 1_000_000)
        await bus.ensure_streams()
        await bus.publish(subjects.CTL_KILL, msg, msg_id=f"kill:{msg.ts_ms}:{engaged}")
    finally:
        await bus.close()
    return {"engaged": engaged, "reason": reason, "ts_ms": msg.ts_ms}
