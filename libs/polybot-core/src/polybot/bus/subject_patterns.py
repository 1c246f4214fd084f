"""NATS subject patterns as sets of subjects: is a pattern well formed, and where do two of them meet.

``*`` stands for exactly one token, ``>`` (last only) for one or more. ``intersect`` gives the pattern of the
subjects both patterns match, or None when they share none: a consumer filter on a stream must lie inside the
stream's subjects, and ``pb.book.>`` meets ``PB_BOOK_DELTAS`` (``pb.book.delta.*``) exactly in its subjects.
"""

from __future__ import annotations

_FORBIDDEN = frozenset(" \t\r\n")


def valid_pattern(pattern: str) -> bool:
    """Non-empty tokens without whitespace; ``*`` and ``>`` as whole tokens, ``>`` only as the last one."""
    tokens = pattern.split(".")
    for i, tok in enumerate(tokens):
        if not tok or any(c in _FORBIDDEN for c in tok):
            return False
        if ("*" in tok or ">" in tok) and tok not in ("*", ">"):
            return False
        if tok == ">" and i != len(tokens) - 1:
            return False
    return True


def _meet(a: list[str], b: list[str]) -> list[str] | None:
    if not a or not b:
        return [] if not a and not b else None
    x, y = a[0], b[0]
    if x == ">" and y == ">":
        return [">"]
    if x == ">":
        return b  # ``>`` takes whatever (one or more tokens) the other still has
    if y == ">":
        return a
    if x == "*":
        head = y
    elif y == "*" or x == y:
        head = x
    else:
        return None
    rest = _meet(a[1:], b[1:])
    return None if rest is None else [head, *rest]


def intersect(a: str, b: str) -> str | None:
    """The pattern matching exactly the subjects that both ``a`` and ``b`` match; None when there are none."""
    met = _meet(a.split("."), b.split("."))
    return None if met is None else ".".join(met)


def matches(pattern: str, subject: str) -> bool:
    """Whether the concrete ``subject`` is one of ``pattern``'s."""
    return intersect(pattern, subject) == subject
