"""The pieces the CLI's messages are made of, in-process: redaction, descriptions, flag values, URL checks."""

from __future__ import annotations

import argparse
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from polybot.cli import flags
from polybot.cli.connect import check_nats_url, check_pg_url
from polybot.cli.failures import CliError, describe, echo, one_line, redact, scrub
from polybot.cli.files import readable_file


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped @ in the password
    ("nats://u:pw@127.0.0.1:4222", "nats://u:***@127.0.0.1:4222"),
    ("postgresql://h/db?password=secret&sslmode=disable", "postgresql://h/db?password=***&sslmode=disable"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("not a url", "not a url"),
])
def test_redact_hides_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert scrub(f"login as {url} failed", url).count("secret") == 0


@pytest.mark.parametrize(("exc", "timeout", "text"), [
    (TimeoutError(), None, "timed out"),
    (TimeoutError(), 2.5, "timed out after 2.5s"),
    (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)"), None, "connection refused"),
    (socket.gaierror(-2, "Name or service not known"), None, "host name not resolved (Name or service not known)"),
    (OSError(), None, "OSError"),
    (ValueError("two\nlines"), None, "two\\nlines"),
    (PermissionError(13, "Permission denied"), None, "Permission denied"),
])
def test_describe_is_never_empty(exc: BaseException, timeout: float | None, text: str) -> None:
    assert describe(exc, timeout) == text


def test_one_line_and_echo() -> None:
    assert one_line("a\nb\r\x1b[31m") == "a\\nb\\r\\x1b[31m"
    assert one_line("naïve マーケット") == "naïve マーケット"
    assert len(echo("9" * 5000)) == 60 and echo("9" * 5000).endswith("…")


@pytest.mark.parametrize(("convert", "good", "bad"), [
    (flags.integer(0, 65_535), {"0": 0, " 8080 ": 8080, "65535": 65_535},
     ["-1", "65536", "1.5", "", "9" * 400, "0x10"]),
    (flags.real(0, 10, above=True), {"0.5": 0.5, "10": 10.0}, ["0", "-1", "nan", "inf", "-inf", "1e999", "x"]),
    (flags.amount(), {"0": Decimal(0), "10000.50": Decimal("10000.50")}, ["-0.01", "NaN", "sNaN", "Infinity", "1e99"]),
    (flags.word(), {"0xabc": "0xabc", "マーケット": "マーケット"}, ["", "a b", "a\nb", "\udcff"]),
    (flags.word(("debug", "info")), {"DEBUG": "debug"}, ["loud", ""]),
])
def test_flag_values(convert: object, good: dict[str, object], bad: list[str]) -> None:
    assert callable(convert)
    for text, value in good.items():
        assert convert(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            convert(text)


@pytest.mark.parametrize("url", ["postgresql://u@h:5432/db", "postgres://h/db", "postgresql://",
                                 "postgresql://h1:5432,h2:5433/db"])
def test_pg_urls_accepted(url: str) -> None:
    check_pg_url(url, "--db-url")


@pytest.mark.parametrize(("url", "words"), [
    ("mysql://x", "not a PostgreSQL database URL"), ("", "is empty"), ("  ", "is empty"),
    ("localhost:5432", "not a PostgreSQL database URL"), ("postgresql://h:port/db", "not a usable database URL"),
    ("postgresql://[::1/db", "not a usable database URL"),
])
def test_pg_urls_refused(url: str, words: str) -> None:
    with pytest.raises(CliError, match=words):
        check_pg_url(url, "--db-url")


@pytest.mark.parametrize("url", ["nats://127.0.0.1:4222", "tls://h:4222", "127.0.0.1:4222", "nats://u:p@h"])
def test_nats_urls_accepted(url: str) -> None:
    check_nats_url(url, "the NATS URL")


@pytest.mark.parametrize("url", ["", "not a url", "http://h:4222", "nats://", "nats://h:99999", "nats://[::1"])
def test_nats_urls_refused(url: str) -> None:
    with pytest.raises(CliError, match="NATS URL"):
        check_nats_url(url, "the NATS URL")


def test_readable_file_names_each_kind(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text("{}\n")
    assert readable_file(str(tmp_path / "ok.jsonl"), "recording") == tmp_path / "ok.jsonl"
    (tmp_path / "link").symlink_to(tmp_path / "ok.jsonl")
    assert readable_file(str(tmp_path / "link"), "recording") == tmp_path / "link"  # a good link is fine
    cases = {str(tmp_path): "is a directory", "/dev/null": "character device", "": "path is empty",
             str(tmp_path / "gone"): "no such file", str(tmp_path / "a" / "b"): "there is no directory",
             str(tmp_path / "ok.jsonl" / "x"): "not a directory", "x" * 5000: "cannot open"}
    for path, words in cases.items():
        with pytest.raises(CliError, match=words):
            readable_file(path, "recording")
