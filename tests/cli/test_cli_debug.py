"""``--debug`` shows the traceback (before or after the command); the last net catches what no command
translated, in one line; a frame that breaks the replay is named by its line; an unreadable file says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REC = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market" / "book_2024-11_polypy.json"
REC_MARKET = "0xd7399bd24c16cdef567d71ef2352776c8861017146c4e99d727605f4d84ba94d"

# A command whose handler raises what it is told: the only way to meet the last net, which no real case
# should reach any more.
RAISING = """
import sys
import polybot.cli.status as status
kind, text = sys.argv[1], sys.argv[2]
def run(args):
    raise {"runtime": RuntimeError, "value": ValueError, "timeout": TimeoutError}[kind](*([text] if text else []))
status.run = run
from polybot.cli.main import main
main(sys.argv[3:])
"""
# The replay's parser with a bug: a frame holding BOOM makes it raise, as junk frames once did.
BROKEN_PARSER = """
import sys
import polybot.app.replay.run as replay
real = replay.parse_market_frame
def parse(frame, *args):
    if "BOOM" in frame:
        raise TypeError("unhashable type: 'list'")
    return real(frame, *args)
replay.parse_market_frame = parse
from polybot.cli.main import main
main(sys.argv[1:])
"""


def _python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd,
                          check=False)


@pytest.mark.parametrize(("args", "inner"), [
    (["--debug", "status", "--config", "{d}/bad.toml"], "TOMLDecodeError"),
    (["status", "--debug", "--config", "{d}/bad.toml"], "TOMLDecodeError"),
    (["--debug", "status", "--config", "{d}/wrong_type.toml"], "ValidationError"),
    (["--debug", "status", "--db-url", "postgresql://u@127.0.0.1:{free}/x"], "ConnectionRefusedError"),
    (["--debug", "replay", "{d}", "0x1"], "CliError"),
    (["--debug", "sim", "--port", "-1"], "CliError"),
], ids=["toml", "after-command", "settings", "connection", "directory", "usage"])
def test_debug_prints_the_traceback_and_still_the_line(args: list[str], inner: str, hostile: Path,
                                                       ports: dict[str, str], cli: Callable[..., Any]) -> None:
    filled = [a.replace("{d}", str(hostile)).replace("{free}", ports["free"]) for a in args]
    res = cli(filled, cwd=hostile)
    assert res.returncode == 2, res.stderr
    assert "Traceback (most recent call last)" in res.stderr and inner in res.stderr
    assert res.stderr.splitlines()[-1].startswith("error: ")
    plain = cli([a for a in filled if a != "--debug"], cwd=hostile)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr and len(plain.stderr.splitlines()) == 1
    assert plain.stderr.splitlines()[-1] == res.stderr.splitlines()[-1]


NET = " (run with --debug for the traceback)"


@pytest.mark.parametrize(("kind", "text", "line"), [
    ("runtime", "kaboom\nsecond line", "error: RuntimeError: kaboom\\nsecond line" + NET),
    ("value", "", "error: ValueError: (no message)" + NET),
    ("timeout", "", "error: TimeoutError: timed out" + NET),
])
def test_the_last_net_is_one_line_naming_the_type(kind: str, text: str, line: str) -> None:
    res = _python("-c", RAISING, kind, text, "status", "--db-url", "postgresql://x@h/d")
    assert (res.returncode, res.stderr) == (2, line + "\n")
    debug = _python("-c", RAISING, kind, text, "--debug", "status", "--db-url", "postgresql://x@h/d")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and debug.stderr.splitlines()[-1] == line


def test_a_frame_that_breaks_the_replay_is_named_by_its_line(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    rec.write_text(" ".join(REC.read_text().splitlines()) + '\n{"BOOM": 1}\n')
    res = _python("-c", BROKEN_PARSER, "replay", str(rec), REC_MARKET)
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith(f"error: cannot replay line 2 of {rec}: TypeError: unhashable type: 'list'")
    assert "--debug" in res.stderr and "Traceback" not in res.stderr


def _unprivileged() -> list[str] | None:
    """A command prefix under which file permissions apply (root reads everything)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, "--inh-caps", caps, "--bounding-set", caps]


@pytest.mark.parametrize("flag", ["replay", "config"])
def test_an_unreadable_file_says_permission_denied(flag: str, tmp_path: Path, cli: Callable[..., Any]) -> None:
    prefix = _unprivileged()
    # never a skip: setpriv ships with util-linux (essential on Debian); a machine without it must say so
    assert prefix is not None, "setpriv (util-linux) is missing: as root every file would be readable"
    secret = tmp_path / "secret.jsonl"
    secret.write_text("{}\n")
    secret.chmod(0)
    args = ["replay", str(secret), "0x1"] if flag == "replay" else ["status", "--config", str(secret)]
    res = cli(args, cwd=tmp_path, prefix=prefix)
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert "cannot read" in res.stderr and str(secret) in res.stderr and "permission denied" in res.stderr
