"""The CLI speaks to people: each hostile-but-fair case below prints one line on stderr naming the problem,
exits 2 (bad input, cannot connect) or 1 (ran, but found nothing), and never a traceback unless --debug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polybot.runtime.embedded import free_port


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "polybot.cli", *args], capture_output=True, text=True,
                          timeout=60, env=clean, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    (d / "bad.toml").write_text("x = [\n")
    (d / "unknown.toml").write_text("bogus_key = 1\n")
    (d / "wrong_type.toml").write_text("[ops]\ningestor = \"abc\"\n")
    (d / "junk.jsonl").write_text('{"event_type":["book"]}\n{"event_type":{"a":1}}\n[{"event_type":[1]}]\n')
    (d / "empty.jsonl").write_text("")
    return d


def _cases(d: Path) -> list[tuple[list[str], dict[str, str], int, str]]:
    port = str(free_port())
    return [
        (["status", "--db-url", "mysql://x"], {}, 2, "database URL"),
        (["status", "--db-url", "not a url"], {}, 2, "database URL"),
        (["status", "--db-url", f"postgresql://u@127.0.0.1:{port}/db"], {}, 2, f"127.0.0.1:{port}"),
        (["status", "--config", str(d / "missing.toml")], {}, 2, "no such file"),
        (["status", "--config", str(d)], {}, 2, "is a directory"),
        (["status", "--config", str(d / "bad.toml")], {}, 2, "not valid TOML"),
        (["status", "--config", str(d / "unknown.toml")], {}, 2, "unknown setting 'bogus_key'"),
        (["status", "--config", str(d / "wrong_type.toml")], {}, 2, "ops.ingestor"),
        (["status"], {"POLYBOT_OPS__INGESTOR": "abc"}, 2, "ops.ingestor"),
        (["gamma-refresh", "--config", str(d / "bad.toml")], {}, 2, "not valid TOML"),
        (["replay", str(d / "junk.jsonl"), "0x1"], {}, 1, "no events"),
        (["replay", str(d / "empty.jsonl"), "0x1"], {}, 1, "no events"),
        (["replay", str(d), "0x1"], {}, 2, "is a directory"),
        (["replay", "/dev/null", "0x1"], {}, 2, "not a regular file"),
        (["replay", str(d / "nope.jsonl"), "0x1"], {}, 2, "no such file"),
    ]


def test_every_case_is_one_clear_line_with_the_right_exit_code(files: Path) -> None:
    for args, env, code, words in _cases(files):
        res = _cli(*args, env=env, cwd=files)
        errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert res.returncode == code, (args, res.returncode, res.stderr[-500:])
        assert "Traceback" not in res.stderr + res.stdout, (args, res.stderr[-800:])
        assert len(errors) == 1 and words in errors[0], (args, res.stderr[-500:])


def test_debug_shows_the_traceback(files: Path) -> None:
    res = _cli("--debug", "status", "--config", str(files / "bad.toml"), cwd=files)
    assert res.returncode == 2 and "Traceback" in res.stderr and "not valid TOML" in res.stderr
