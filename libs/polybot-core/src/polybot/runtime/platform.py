"""Everything that differs between POSIX and Windows, decided by one flag: ``IS_WINDOWS``.

The service shells, ``polybot up`` and the embedded servers ask this module instead of ``sys.platform``, so
a test can run the Windows branch on Linux by setting ``platform.IS_WINDOWS = True``.

* Stop signals: ``loop.add_signal_handler`` does not exist on Windows' event loops (it raises
  ``NotImplementedError``); there a plain ``signal.signal`` handler hands the stop to the loop. Windows also
  delivers Ctrl-Break (``SIGBREAK``): it is how a parent asks a child in its own process group to stop.
* Child processes: on POSIX a child gets its own session (a Ctrl-C in the terminal reaches ``up``, which
  stops the children in order, instead of every process at once) and is asked to stop with SIGTERM; on
  Windows it gets its own process group and is asked with ``CTRL_BREAK_EVENT`` (``terminate()`` there is
  ``TerminateProcess``: no drain, no cleanup).
* Liveness of a pid: ``os.kill(pid, 0)`` is a probe on POSIX but sends Ctrl-C on Windows; psutil asks both.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

IS_WINDOWS = sys.platform == "win32"

# The values of Windows' constants, for the branch that runs where the names do not exist (tests on Linux).
_CREATE_NEW_PROCESS_GROUP = 0x00000200
_CTRL_BREAK_EVENT = 1


def stop_signals() -> tuple[int, ...]:
    """The signals that ask this process to stop gracefully (``SIGBREAK`` exists only on Windows)."""
    brk: int | None = getattr(signal, "SIGBREAK", None)
    if IS_WINDOWS and brk is not None:
        return (signal.SIGINT, signal.SIGTERM, brk)
    return (signal.SIGINT, signal.SIGTERM)


def on_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """Call ``stop`` in ``loop`` on SIGINT/SIGTERM (and Ctrl-Break on Windows). Call from the main thread."""
    if not IS_WINDOWS:
        try:
            for sig in stop_signals():
                loop.add_signal_handler(sig, stop)
            return
        except (NotImplementedError, RuntimeError):  # a loop without signal support: the portable way below
            pass

    def _handler(signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(stop)

    for sig in stop_signals():
        signal.signal(sig, _handler)


def on_stop_signals_sync(stop: Callable[[], None]) -> None:
    """Call ``stop`` on every stop signal, in a process without an event loop (``polybot up``)."""

    def _handler(signum: int, frame: Any) -> None:
        stop()

    for sig in stop_signals():
        signal.signal(sig, _handler)


def child_popen_kwargs() -> dict[str, Any]:
    """``subprocess.Popen`` arguments that detach a child from the terminal's Ctrl-C, so that its parent
    decides when and how it stops."""
    if IS_WINDOWS:
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", _CREATE_NEW_PROCESS_GROUP)}
    return {"start_new_session": True}


def request_stop(proc: subprocess.Popen[Any]) -> None:
    """Ask a child started with ``child_popen_kwargs`` to stop gracefully (it drains, then exits)."""
    if proc.poll() is not None:
        return
    if IS_WINDOWS:
        proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT", _CTRL_BREAK_EVENT))
    else:
        proc.terminate()


def pid_alive(pid: int) -> bool:
    """True while a process ``pid`` exists (a zombie counts as gone)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def executable_name(name: str) -> str:
    """The file name of the executable ``name`` on this platform (``nats-server.exe`` on Windows)."""
    return f"{name}.exe" if IS_WINDOWS else name
