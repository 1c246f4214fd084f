"""Where NATS and PostgreSQL come from, resolved in one order for services, the CLI and the tests.

1. explicit URLs (``POLYBOT_NATS_URL``, ``POLYBOT_DATABASE_URL``);
2. in tests only, containers when a Docker engine answers;
3. embedded: a real nats-server and PostgreSQL started from PyPI packages (see ``embedded``), sharing one
   set per state directory: a second process finds the first one's servers in ``infra.json`` and reuses them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from polybot.runtime.embedded import EmbeddedNats, EmbeddedPostgres, port_open

Source = Literal["env", "containers", "embedded", "embedded-shared"]
STATE_FILE = "infra.json"


@dataclass
class Infra:
    nats_url: str
    database_url: str
    nats_source: Source
    database_source: Source
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def owns_servers(self) -> bool:
        return bool(self._stops)

    def env(self) -> dict[str, str]:
        """Environment that makes a child process use the same servers."""
        return {"POLYBOT_NATS_URL": self.nats_url, "POLYBOT_DATABASE_URL": self.database_url}

    def close(self) -> None:
        """Stop the servers this process started (in reverse order)."""
        while self._stops:
            with contextlib.suppress(Exception):
                self._stops.pop()()


def _answers(url: str) -> bool:
    u = urlparse(url)
    return bool(u.hostname and u.port and port_open(u.hostname, u.port))


def shared_infra(state_dir: Path) -> dict[str, str] | None:
    """URLs of the embedded servers a running ``polybot up`` published under ``state_dir``, if they answer."""
    return _read_shared(state_dir)


def _read_shared(state_dir: Path) -> dict[str, str] | None:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and all(_answers(str(data.get(k, ""))) for k in ("nats_url", "database_url")):
        return {k: str(v) for k, v in data.items()}
    return None


def docker_available() -> bool:
    """True when a Docker engine answers within two seconds."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        return bool(client.ping())
    except Exception:
        return False


def _start_containers(infra_stops: list[Callable[[], None]]) -> tuple[str, str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    pg = PostgresContainer("postgres:16-alpine", username="postgres", password="postgres", dbname="polybot")
    pg.start()
    infra_stops.append(pg.stop)
    nats_c = DockerContainer("nats:2.10-alpine").with_command("-js").with_exposed_ports(4222)
    nats_c.start()
    infra_stops.append(nats_c.stop)
    wait_for_logs(nats_c, "Server is ready", timeout=30)
    db_url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    nats_url = f"nats://{nats_c.get_container_host_ip()}:{nats_c.get_exposed_port(4222)}"
    return nats_url, db_url


def resolve_infra(
    nats_url: str | None,
    database_url: str | None,
    state_dir: Path,
    *,
    allow_containers: bool = False,
    share: bool = True,
    durable: bool = True,
) -> Infra:
    """Return usable URLs for NATS and PostgreSQL, starting servers when none are configured.

    ``share`` reuses (and publishes, via ``infra.json``) the embedded servers of ``state_dir``; tests pass
    ``share=False`` so that each test session owns its servers.
    """
    nats_url = nats_url or os.environ.get("POLYBOT_NATS_URL") or None
    database_url = database_url or os.environ.get("POLYBOT_DATABASE_URL") or None
    stops: list[Callable[[], None]] = []
    if nats_url and database_url:
        return Infra(nats_url, database_url, "env", "env")
    nats_src: Source = "env"
    db_src: Source = "env"
    if share:
        shared = _read_shared(state_dir)
        if shared is not None:
            if not nats_url:
                nats_url, nats_src = shared["nats_url"], "embedded-shared"
            if not database_url:
                database_url, db_src = shared["database_url"], "embedded-shared"
            return Infra(nats_url, database_url, nats_src, db_src)
    if allow_containers and docker_available():
        c_nats, c_db = _start_containers(stops)
        if not nats_url:
            nats_url, nats_src = c_nats, "containers"
        if not database_url:
            database_url, db_src = c_db, "containers"
        return Infra(nats_url, database_url, nats_src, db_src, stops)
    if not nats_url:
        n = EmbeddedNats(state_dir / "nats").start()
        stops.append(n.stop)
        nats_url, nats_src = n.url, "embedded"
    if not database_url:
        try:
            p = EmbeddedPostgres(state_dir / "postgres", durable=durable).start()
        except Exception:
            for stop in reversed(stops):
                stop()
            raise
        stops.append(p.stop)
        database_url, db_src = p.url, "embedded"
    if share:
        path = state_dir / STATE_FILE
        path.write_text(json.dumps({"nats_url": nats_url, "database_url": database_url, "pid": os.getpid()}))
        stops.append(lambda: path.unlink(missing_ok=True))
    return Infra(nats_url, database_url, nats_src, db_src, stops)
