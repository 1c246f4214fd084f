"""``polybot up``: the whole stack on this machine, as separate OS processes.

Starts embedded NATS and PostgreSQL when no URLs are configured, applies migrations, starts every service,
waits for each ``/readyz``, prints where they are, and on Ctrl-C stops everything it started, leaving no
process and no pid file behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polybot.cli import flags
from polybot.cli.failures import EXIT_ERROR, EXIT_PROBLEM, CliError, describe, print_error
from polybot.runtime import platform

if TYPE_CHECKING:  # settings, servers and HTTP are imported when the command runs (see polybot.cli.main)
    from polybot.runtime.infra import Infra
    from polybot.runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    args: tuple[str, ...] = ()
    ready_path: str = "/readyz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def stack(settings: Settings, *, with_sim: bool = True) -> list[ServiceSpec]:
    """The processes ``up`` runs, in start order (keep docker-compose.yml in step with this).

    In paper mode the local Polymarket simulator comes first, so the services have a venue to talk to.
    """
    ops = settings.ops
    sim = settings.sim
    sim_spec = ServiceSpec(
        "polysim", "polysim", sim.port,
        ("--host", sim.host, "--port", str(sim.port), "--seed", str(sim.seed), "--markets", str(sim.markets)),
        ready_path="/time",
    )
    return [*([sim_spec] if with_sim else []),
        ServiceSpec("gamma-sync", "polybot_gamma_sync", ops.gamma_sync),
        ServiceSpec("ingestor", "polybot_ingestor", ops.ingestor),
        ServiceSpec("quoter", "polybot_quoter", ops.quoter),
        ServiceSpec("executor", "polybot_executor", ops.executor),
    ]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("up", help="run the whole stack locally until Ctrl-C")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--ready-timeout", type=flags.real(0, 86_400, above=True), default=60.0,
                   help="seconds to wait for every /readyz")
    p.add_argument("--exit-when-ready", action="store_true", help="stop everything once all are ready (smoke test)")
    p.add_argument("--no-sim", action="store_true", help="do not start polysim (the services use the configured venue)")
    p.set_defaults(handler=run)


def _sim_env(settings: Settings) -> dict[str, str]:
    """Point every service at the simulator ``up`` starts (docker-compose.yml does the same)."""
    base = f"http://{settings.sim.host}:{settings.sim.port}"
    return {
        "POLYBOT_INGESTOR__CLOB_REST_URL": base,
        "POLYBOT_INGESTOR__CLOB_WS_URL": f"ws://{settings.sim.host}:{settings.sim.port}/ws/market",
        "POLYBOT_GAMMA__GAMMA_URL": f"{base}/gamma",
        "POLYBOT_GAMMA__CLOB_URL": base,
        "POLYBOT_EXECUTOR__CLOB_URL": base,
        "POLYBOT_EXECUTOR__WS_USER_URL": f"ws://{settings.sim.host}:{settings.sim.port}/ws/user",
        "POLYBOT_EXECUTOR__GAMMA_URL": f"{base}/gamma",
    }


def service_env(settings: Settings, infra: Infra, *, config: str | None, with_sim: bool) -> dict[str, str]:
    """The settings ``up`` gives every service on top of its own environment (docker-compose.yml gives the
    services the same keys; tests/foundation/test_compose.py compares them)."""
    env = {**infra.env(), **(_sim_env(settings) if with_sim else {})}
    if config:
        env["POLYBOT_CONFIG"] = str(Path(config).resolve())  # the services read the same file
    return env


def _pid_dir(settings: Settings) -> Path:
    d = settings.state_dir / "run"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the state directory {d}: {describe(exc)}; set state_dir "
                       f"(POLYBOT_STATE_DIR) to a directory this user can write") from exc
    return d


def _check_ports(specs: list[ServiceSpec]) -> None:
    """Every port a process of the stack listens on is a port, and no two share one."""
    by_port: dict[int, str] = {}
    for spec in specs:
        if not 1 <= spec.port <= 65_535:
            raise CliError(f"the port of {spec.name} is {spec.port}, not a TCP port (1-65535): fix it in the "
                           f"settings (ops.* / sim.port)")
        if spec.port in by_port:
            raise CliError(f"{by_port[spec.port]} and {spec.name} are both set to port {spec.port}: "
                           f"give each its own (ops.* / sim.port)")
        by_port[spec.port] = spec.name


def _check_stale_pids(pid_dir: Path) -> None:
    from polybot.runtime.platform import pid_alive

    for f in pid_dir.glob("*.pid"):
        try:
            pid = int(f.read_text().strip())
        except ValueError:
            pid = 0
        if pid <= 0 or not pid_alive(pid):
            f.unlink(missing_ok=True)  # a previous run died without cleaning up
            continue
        raise CliError(f"{f.stem} is already running as pid {pid} (a `polybot up` of state_dir {pid_dir.parent}): "
                       f"stop it first (Ctrl-C in its terminal, or kill {pid})")


async def _migrate(infra: Infra) -> None:
    from polybot.cli.connect import open_pool
    from polybot.store import migrate

    pool = await open_pool(infra.database_url, label=f"the database URL ({infra.database_source})")
    try:
        await migrate.apply_migrations(pool)
    finally:
        await pool.close()


class _Stopped(Exception):
    """A stop signal arrived while the stack was starting."""


def _wait_ready(specs: list[ServiceSpec], procs: dict[str, subprocess.Popen[bytes]], timeout_s: float,
                stop: dict[str, bool] | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    pending = {s.name: s for s in specs}
    with httpx.Client(timeout=1.0) as client:
        while pending:
            if stop is not None and stop["now"]:  # Ctrl-C or SIGTERM while starting: stop now, not at the timeout
                raise _Stopped
            for name, spec in list(pending.items()):
                if procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with code {procs[name].returncode} before becoming ready")
                try:
                    if client.get(f"{spec.url}{spec.ready_path}").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout_s:.0f}s: {', '.join(sorted(pending))}")
            time.sleep(0.2)


def _start(specs: list[ServiceSpec], procs: dict[str, subprocess.Popen[bytes]], env: dict[str, str],
           pid_dir: Path) -> None:
    for spec in specs:
        procs[spec.name] = subprocess.Popen([sys.executable, "-m", spec.module, *spec.args], env=env,
                                            **platform.child_popen_kwargs())
        (pid_dir / f"{spec.name}.pid").write_text(str(procs[spec.name].pid))


def _stop_all(procs: dict[str, subprocess.Popen[bytes]], pid_dir: Path) -> None:
    for proc in procs.values():
        platform.request_stop(proc)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for name in procs:
        (pid_dir / f"{name}.pid").unlink(missing_ok=True)


def _print_table(
    specs: list[ServiceSpec], procs: dict[str, subprocess.Popen[bytes]], infra: Infra, took_s: float
) -> None:
    print(f"\nPolybot is up in {took_s:.1f}s  (NATS {infra.nats_url} [{infra.nats_source}], "
          f"PostgreSQL {infra.database_url} [{infra.database_source}])\n")
    print(f"{'SERVICE':<12} {'PID':>7} {'PORT':>6}  URL")
    for s in specs:
        links = f"{s.url}/status  {s.url}/metrics" if s.ready_path == "/readyz" else f"{s.url}  (gamma: {s.url}/gamma)"
        print(f"{s.name:<12} {procs[s.name].pid:>7} {s.port:>6}  {links}")
    print("\nCtrl-C stops everything.", flush=True)


def _infra(settings: Settings) -> Infra:
    from polybot.runtime.infra import resolve_infra

    try:
        return resolve_infra(settings.nats_url, settings.database_url, settings.state_dir)
    except Exception as exc:  # only servers it had to start itself can fail here
        raise CliError(f"cannot start the embedded NATS and PostgreSQL under {settings.state_dir}: "
                       f"{describe(exc)}; set POLYBOT_NATS_URL and POLYBOT_DATABASE_URL to use running servers"
                       ) from exc


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config

    settings = config.load(args.config)
    if settings.mode == "live" and not args.no_sim:
        raise CliError("mode is live; refusing to start the simulator beside live services (use --no-sim)")
    specs = stack(settings, with_sim=not args.no_sim)
    _check_ports(specs)
    pid_dir = _pid_dir(settings)
    _check_stale_pids(pid_dir)
    t0 = time.monotonic()
    stop = {"now": False}

    def _on_signal() -> None:
        stop["now"] = True

    platform.on_stop_signals_sync(_on_signal)
    infra = _infra(settings)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        asyncio.run(_migrate(infra))
        env = {**os.environ, **service_env(settings, infra, config=args.config, with_sim=not args.no_sim)}
        first = [s for s in specs if s.name == "polysim"]
        if first and settings.mode == "sim" and settings.private_key is None:
            _start(first, procs, env, pid_dir)  # the simulator first: the throwaway wallet is funded there
            _wait_ready(first, procs, args.ready_timeout, stop)
            from polybot.cli.sim_wallet import funded_sim_key

            env["POLYBOT_PRIVATE_KEY"] = funded_sim_key(first[0].url)
        _start([s for s in specs if s.name not in procs], procs, env, pid_dir)
        _wait_ready(specs, procs, args.ready_timeout, stop)
        _print_table(specs, procs, infra, time.monotonic() - t0)
        session = getattr(args, "session", None)  # ``polybot demo``: run for a while, report, stop
        if session is not None:
            return int(session(settings, infra, specs, procs))
        while not stop["now"] and not args.exit_when_ready:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print_error(f"{name} exited with code {proc.returncode}; stopping the stack (its log is above)")
                    return EXIT_PROBLEM
            time.sleep(0.3)
        return 0
    except _Stopped:
        return 0
    except RuntimeError as exc:  # a service did not become ready: the stack ran, and found a problem
        print_error(f"{exc}; stopping the stack (the services' logs are above)")
        return EXIT_PROBLEM
    except OSError as exc:  # a service could not be started at all
        print_error(f"cannot start the stack: {describe(exc)}")
        return EXIT_ERROR
    finally:
        print("stopping…", flush=True)
        _stop_all(procs, pid_dir)
        infra.close()
        print("stopped.", flush=True)
