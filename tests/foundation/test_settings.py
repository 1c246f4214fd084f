"""Settings: TOML, then env overrides; live mode is refused without a key; secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polybot.runtime.settings import load_settings


def test_toml_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('log_level = "DEBUG"\n[ingestor]\nsnapshot_interval_s = 12.0\nretention_s = 60.0\n')
    monkeypatch.setenv("POLYBOT_INGESTOR__RETENTION_S", "90")
    s = load_settings(cfg)
    assert s.log_level == "DEBUG"
    assert s.ingestor.snapshot_interval_s == 12.0
    assert s.ingestor.retention_s == 90.0


def test_live_mode_requires_a_private_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("POLYBOT_CONFIG", str(tmp_path / "empty.toml"))
    monkeypatch.setenv("POLYBOT_MODE", "live")
    monkeypatch.delenv("POLYBOT_PRIVATE_KEY", raising=False)
    with pytest.raises(ValidationError, match="POLYBOT_PRIVATE_KEY"):
        load_settings()


def test_secret_is_not_in_repr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("POLYBOT_CONFIG", str(tmp_path / "empty.toml"))
    monkeypatch.setenv("POLYBOT_PRIVATE_KEY", "0x" + "11" * 32)
    s = load_settings()
    assert "11111111" not in repr(s) and "11111111" not in str(s.model_dump())
    assert s.private_key is not None and s.private_key.get_secret_value().endswith("1111")


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_a_config_named_by_polybot_config_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(FileNotFoundError, match="named by POLYBOT_CONFIG not found"):
        load_settings()
    monkeypatch.setenv("POLYBOT_CONFIG", str(tmp_path))
    with pytest.raises(IsADirectoryError, match="named by POLYBOT_CONFIG is a directory"):
        load_settings()


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text("[ingestor]\nsnapshot_every = 3\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)


def test_loading_one_file_does_not_leak_into_later_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("POLYBOT_CONFIG", str(tmp_path / "empty.toml"))
    cfg = tmp_path / "s.toml"
    cfg.write_text('log_level = "DEBUG"\n')
    assert load_settings(cfg).log_level == "DEBUG"
    assert load_settings().log_level == "INFO"
