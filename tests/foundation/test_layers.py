"""The layer contracts: the domain imports no I/O and no outer layer; a planted violation is caught."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "libs" / "polybot-core" / "src"
LINTER = Path(sys.executable).parent / "lint-imports"
FORBIDDEN_IN_DOMAIN = {"asyncio", "nats", "asyncpg", "fastapi", "httpx", "websockets", "uvicorn", "logging",
                       "socket", "polybot.venue", "polybot.bus", "polybot.store", "polybot.runtime",
                       "polybot.app", "polybot.cli"}


def domain_violations(src_root: Path) -> list[str]:
    """Every import in polybot/domain of a forbidden module, as 'file:line module'."""
    found: list[str] = []
    for path in sorted((src_root / "polybot" / "domain").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_DOMAIN):
                    found.append(f"{path.relative_to(src_root)}:{node.lineno} {name}")
    return found


def _lint_imports(src_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src_root)}
    return subprocess.run([str(LINTER), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_domain_is_pure_today() -> None:
    assert domain_violations(SRC) == []


def test_import_linter_contracts_hold() -> None:
    res = _lint_imports(SRC, REPO)
    assert res.returncode == 0, res.stdout + res.stderr


def test_planted_violation_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "polybot", copy / "polybot", ignore=shutil.ignore_patterns("__pycache__"))
    planted = copy / "polybot" / "domain" / "planted.py"
    planted.write_text("import asyncio\nfrom polybot.bus import subjects\n\nX = (asyncio, subjects)\n")
    assert {v.split()[-1] for v in domain_violations(copy)} == {"asyncio", "polybot.bus"}
    res = _lint_imports(copy, tmp_path)
    assert res.returncode != 0
    assert "polybot.domain.planted" in res.stdout


def test_a_pipeline_importing_another_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "polybot", copy / "polybot", ignore=shutil.ignore_patterns("__pycache__"))
    planted = copy / "polybot" / "app" / "gamma" / "planted.py"
    planted.write_text("from polybot.app.ingest import outbox\n\nX = outbox\n")
    res = _lint_imports(copy, tmp_path)
    assert res.returncode != 0
    assert "pipelines never import each other" in res.stdout and "polybot.app.gamma.planted" in res.stdout


def test_each_pipeline_has_its_own_folder() -> None:
    app = SRC / "polybot" / "app"
    assert sorted(p.name for p in app.iterdir() if p.suffix == ".py") == ["__init__.py"]
    assert {p.name for p in app.iterdir() if p.is_dir() and p.name != "__pycache__"} >= {"ingest", "gamma", "replay"}
