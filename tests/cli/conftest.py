"""The CLI as a person meets it: real ``python -m polybot.cli`` processes, run many at once to stay fast.

A case is ``(args, env, code, words)``: the exit code it must end with and the words its error line must
hold. ``{d}`` (the directory of hostile files), ``{free}`` (a port nobody listens on), ``{silent}`` (a port
that accepts connections and never answers), ``{busy}`` (a port in use), ``{db}`` and ``{nats}`` (the test
servers) are filled in when the case runs.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from polybot.runtime.embedded import free_port

Result = subprocess.CompletedProcess[str]
Case = tuple[Sequence[str], dict[str, str], int, Sequence[str]]
CONDITION = "0x" + "a" * 64
WORKERS = max(2, min(8, 2 * (os.cpu_count() or 1)))


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any ``POLYBOT_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run_cli(args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None,
            prefix: Sequence[str] = ()) -> Result:
    return subprocess.run([*prefix, sys.executable, "-m", "polybot.cli", *args], capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=60, env=clean_env(env), cwd=cwd, check=False)


def fill(text: str, ctx: dict[str, str]) -> str:
    for key, value in ctx.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_cases(cases: dict[str, Case], ctx: dict[str, str], cwd: Path) -> dict[str, Result]:
    """Every case at once (each is a separate process); results by case id."""
    def one(case: Case) -> Result:
        args, env, _, _ = case
        return run_cli([fill(a, ctx) for a in args], {k: fill(v, ctx) for k, v in env.items()}, cwd)

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {cid: pool.submit(one, case) for cid, case in cases.items()}
        return {cid: f.result() for cid, f in futures.items()}


def check_error(res: Result, code: int, words: Sequence[str], absent: Sequence[str] = ()) -> str:
    """The exit code is ``code``, no traceback anywhere, exactly one ``error:`` line (the whole of stderr
    for exit 2; the last line after the listed invalid messages for exit 1) holding every one of ``words``."""
    out = res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert res.returncode == code, (res.args, res.returncode, res.stderr[-800:])
    assert "Traceback" not in out, (res.args, res.stderr[-2000:])
    assert lines, res.args
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == lines[-1], (res.args, res.stderr[-800:])
    if code == 2:
        assert len(lines) == 1, (res.args, res.stderr[-800:])
    for word in words:
        assert word in errors[0], (res.args, word, errors[0])
    for word in absent:
        assert word not in out, (res.args, word)
    return errors[0]


def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


@pytest.fixture(scope="session")
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server)."""
    s = _listener()
    yield int(s.getsockname()[1])
    s.close()


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files a hostile but fair user would hand the CLI."""
    d = tmp_path_factory.mktemp("hostile")
    book = ('{"event_type":"book","asset_id":"1","market":"%s","bids":[{"price":"%s","size":"%s"}],"asks":[],'
            '"timestamp":"1700000000000","hash":"x"}\n')
    files = {
        "bad.toml": "x = [\n",
        "unknown.toml": "bogus_key = 1\n",
        "nested_unknown.toml": "[ops]\nfoo = 2\n",
        "wrong_type.toml": '[ops]\ningestor = "abc"\n',
        "section_type.toml": "ops = 5\n",
        "junk.jsonl": '{"event_type":["book"]}\n{"event_type":{"a":1}}\n[{"event_type":[1]}]\n',
        "empty.jsonl": "",
        "blank.jsonl": "\n   \n\n",
        "not_json.jsonl": "hello\nworld\n",
        "nan.jsonl": book % (CONDITION, "NaN", "10"),
        "snan.jsonl": book % (CONDITION, "0.5", "sNaN"),
        "huge_number.jsonl": book % (CONDITION, "0." + "9" * 5000, "1e999999999"),
        "long_line.jsonl": '{"event_type":"' + "x" * 2_000_000 + '"}\n',
        "unicode.jsonl": '{"event_type":"bøøk","market":"マーケット"}\n',
    }
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "binary.toml").write_bytes(b"\xff\xfe = 1\n")
    (d / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
    (d / "rec.jsonl.gz").write_bytes(gzip.compress(b'{"event_type":"book"}\n' * 100))
    (d / "subdir").mkdir()
    os.mkfifo(d / "fifo.jsonl")
    (d / "dangling.jsonl").symlink_to(d / "gone.jsonl")
    (d / "plain.txt").write_text("not a directory\n")
    return d


@pytest.fixture(scope="session")
def ports() -> dict[str, str]:
    return {"free": str(free_port()), "free2": str(free_port())}


RunCases = Callable[[dict[str, Case], dict[str, str]], dict[str, Result]]


@pytest.fixture(scope="session")
def cases_runner(hostile: Path) -> RunCases:
    def run(cases: dict[str, Case], ctx: dict[str, str]) -> dict[str, Result]:
        return run_cases(cases, {"d": str(hostile), **ctx}, hostile)

    return run


@pytest.fixture(scope="session")
def check() -> Callable[..., str]:
    """``check(result, code, words, absent=())``: see ``check_error``."""
    return check_error


@pytest.fixture(scope="session")
def cli() -> Callable[..., Result]:
    """``cli(args, env=None, cwd=None, prefix=())``: one real CLI process with a clean environment."""
    return run_cli
