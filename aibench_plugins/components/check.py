"""Submission checks from functions: fast validation before scoring, with messages a
participant can act on.

A check function receives the submission folder and the params the manifest gives,
and returns (or yields) one :class:`SubmissionProblem` per problem found; an empty
result means the submission passes. Checks must not read files they do not need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ..core.kinds import EMPTY_PARAMS, CheckInfo


@dataclass(frozen=True)
class SubmissionProblem:
    """A problem in a submission: which file, where in it, what is wrong, how to fix it."""

    check: str
    message: str
    file: str | None = None
    line: int | None = None
    item: str | None = None
    fix: str | None = None
    #: ``error`` refuses the submission; ``warning`` is reported and scoring goes on
    #: (the manifest's ``severity`` of the check sets it).
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file or "submission"
        if self.severity == "warning":
            where = f"warning: {where}"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.message}"
        if self.item is not None:
            text += f" (id {self.item!r})"
        if self.fix:
            text += f" Fix: {self.fix}"
        return f"{text} [{self.check}]"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


CheckFunction = Callable[..., Iterable[SubmissionProblem]]


@dataclass(frozen=True)
class FunctionCheck:
    """A check implemented by a function ``function(submission: Path, **params)``."""

    info: CheckInfo
    function: CheckFunction

    def run(self, submission: Path, **params: Any) -> list[SubmissionProblem]:
        """Every problem found in the submission folder (empty when it passes)."""
        return list(self.function(Path(submission), **params))


def check(
    *, id: str, description: str | None = None, params_schema: Mapping[str, Any] | None = None
) -> Callable[[CheckFunction], FunctionCheck]:
    """Turn ``function(submission: Path, **params) -> Iterable[SubmissionProblem]`` into a check."""

    def decorate(function: CheckFunction) -> FunctionCheck:
        doc = (function.__doc__ or "").strip().split("\n\n")[0]
        info = CheckInfo(id=id, description=" ".join((description or doc).split()),
                         params_schema=dict(params_schema or EMPTY_PARAMS))
        return FunctionCheck(info, function)

    return decorate
