"""A problem found in a manifest or bundle: what is wrong, where, what was expected,
what was found, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem, located by file, line and JSON pointer.

    :param pointer: JSON pointer (RFC 6901) into the file, ``""`` for the whole document.
    :param message: what is wrong, in a sentence.
    :param expected: what would have been accepted.
    :param found: what was there (a short repr), or ``None`` when nothing was.
    :param fix: the next step, when one is obvious ("did you mean 'accuracy'?").
    :param file: the file, relative to the bundle root.
    :param line: 1-based line of the pointed value, when known.
    :param column: 1-based column, when known.
    :param plugin: the plugin whose schema or registry raised the problem.
    """

    pointer: str
    message: str
    expected: str | None = None
    found: str | None = None
    fix: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    plugin: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.column) if part is not None)
        text = f"{where}: " if where else ""
        if self.severity == "warning":
            text += "warning: "
        text += f"{self.pointer or '/'}: {self.message}"
        if self.expected is not None:
            text += f" Expected {self.expected}"
            text += f", found {self.found}." if self.found is not None else "."
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The problem as a JSON object (the documented ``--json`` shape)."""
        return asdict(self)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word``, or ``None`` when none is close. A candidate that
    ``word`` begins (a truncated id) wins over a merely similar one."""
    import difflib

    candidates = list(candidates)
    extensions = sorted((c for c in candidates if c.startswith(word) and c != word), key=len)
    if word and extensions:
        return extensions[0]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` of a JSON value, cut to ``limit`` characters."""
    import json

    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pointer(*parts: str | int) -> str:
    """Build a JSON pointer from path parts, escaping ``~`` and ``/``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
