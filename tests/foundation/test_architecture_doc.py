"""docs/architecture.md names every subject, stream, bus message (with each of its fields) and table the code
has: written by hand, it cannot drift from the code without this failing."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from polybot.bus import messages, streams, subjects
from polybot.store.migrate import discover

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "architecture.md").read_text()


def _code_spans() -> set[str]:
    prose = re.sub(r"^```.*?^```", "", DOC, flags=re.M | re.S)  # fenced blocks would pair the backticks wrongly
    return set(re.findall(r"`([^`\n]+)`", prose))


def test_every_subject_is_named() -> None:
    spans = _code_spans()
    constants = {name: value for name, value in vars(subjects).items()
                 if name.isupper() and isinstance(value, str) and value.startswith(subjects.PREFIX)}
    assert constants
    missing = {name: value for name, value in constants.items() if value not in spans}
    builders = {name: fn for name, fn in vars(subjects).items()
                if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == subjects.__name__}
    assert builders
    for name, fn in builders.items():
        built = fn("TOKEN")
        pattern = built.replace("TOKEN", "<")  # pb.book.delta.<asset_id>
        if not any(span.startswith(pattern) and span.endswith(">") for span in spans):
            missing[f"{name}()"] = built.replace("TOKEN", "<…>")
    assert missing == {}, f"docs/architecture.md does not name: {missing}"
    for alias in subjects.TAP_ALIASES:
        assert f"polybot tap {alias}" in DOC, alias


def test_every_stream_is_named_with_its_subjects() -> None:
    for spec in streams.ALL_STREAMS:
        rows = [ln for ln in DOC.splitlines() if ln.startswith(f"| `{spec.name}` |")]
        assert rows, f"no row for stream {spec.name}"
        for subject in spec.subjects:
            assert f"`{subject}`" in rows[0], f"{spec.name}: {subject}"


def _bus_messages() -> list[type[BaseModel]]:
    union = typing.get_args(messages.BusMessage)[0]
    return list(typing.get_args(union))


def test_every_message_is_named_with_every_field() -> None:
    classes = _bus_messages()
    assert len(classes) >= 10
    for cls in classes:
        rows = [ln for ln in DOC.splitlines() if ln.startswith(f"| `{cls.__name__}` |")]
        assert rows, f"no row for message {cls.__name__}"
        tag = cls.model_fields["type"].default
        assert f"`{tag}`" in rows[0], f"{cls.__name__}: type {tag}"
        words = set(re.findall(r"[a-z_]+", rows[0]))
        missing = [f for f in cls.model_fields if f not in words]
        assert missing == [], f"{cls.__name__}: fields not in docs/architecture.md: {missing}"
    nested = {name: cls for name, cls in vars(messages).items()
              if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls.__module__ == messages.__name__
              and not name.startswith("_") and cls not in classes}
    assert nested
    for name, cls in nested.items():  # LevelUpdate, BookLevel, …: named with their fields, in one parenthesis
        found = re.search(rf"`{name}`: ([a-z_, ]+)\)", DOC)
        assert found, f"docs/architecture.md does not name {name}"
        assert set(cls.model_fields) <= set(found.group(1).replace(" ", "").split(",")), name


def test_every_table_is_named() -> None:
    tables = set()
    for mig in discover():
        tables |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", mig.sql, re.I))
    assert len(tables) >= 10
    missing = sorted(t for t in tables | {"schema_migrations"} if f"`{t}`" not in DOC)
    assert missing == [], f"docs/architecture.md does not name the tables {missing}"
