"""The submission checks' problems as the evaluation session reports them: each problem once,
and a declared file that is missing blamed on the one whose fix it is.

* :func:`read_failure`: a metric's table that the submission lacks, after the scoring program
  scored it, is said the same way: the organiser's mistake when the submission's only file of
  that kind is there under another name, the participant's when it is inside a folder.
* :func:`merge_identical`: several checks often report the same problem (``aibench.required_files``
  and ``aibench.table_schema`` both find no ``predictions.csv``); it is reported once, naming
  every check that found it, so the page and ``--json`` show it once.
* :func:`defer_misnamed`: when the only errors are declared files that are missing while the
  submission holds exactly one file of that kind under another name
  (:func:`aibench_plugins.data.placement.missing_file`), the files alone cannot tell who is
  wrong. The submission is not refused: it goes to the scoring program as it is, with a warning
  that tells the participant what to do if the scoring program cannot read it. If the scoring
  program scores it, the manifest named the wrong file: :func:`misnamed_failures` says so to
  the organiser, and the participant is never told to rename a correct file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..components.check import SubmissionProblem

if TYPE_CHECKING:
    from ..core.errors import ReadError
    from ..manifest.plan import TableDecl

__all__ = ["Misnamed", "defer_misnamed", "merge_identical", "misnamed_message", "read_failure"]


def merge_identical(problems: Sequence[SubmissionProblem]) -> list[SubmissionProblem]:
    """``problems`` with each problem once, in first-seen order: problems that differ only in the
    check that found them become one, whose ``check`` names each of those checks (``"a, b"``)."""
    merged: dict[tuple[object, ...], SubmissionProblem] = {}
    for problem in problems:
        key = (problem.severity, problem.file, problem.line, problem.item, problem.message, problem.fix)
        first = merged.get(key)
        if first is None:
            merged[key] = problem
        elif problem.check not in first.check.split(", "):
            merged[key] = replace(first, check=f"{first.check}, {problem.check}")
    return list(merged.values())


@dataclass(frozen=True)
class Misnamed:
    """A declared file that is missing, and the submission's only file of its kind."""

    pattern: str
    candidate: str
    checks: str


def defer_misnamed(problems: Sequence[SubmissionProblem], submission: Path
                   ) -> tuple[list[SubmissionProblem], list[Misnamed]]:
    """The problems with every misnamed-file error turned into a warning, and those files, when
    such errors are the only errors (see the module docstring); else ``problems`` unchanged."""
    from ..data.placement import missing_file

    errors = [p for p in problems if p.severity == "error"]
    found: dict[int, Misnamed] = {}
    for index, problem in enumerate(problems):
        if problem.severity != "error" or problem.file is None:
            continue
        missing = missing_file(submission, problem.file)
        if missing.candidate is not None and (problem.message, problem.fix) == (missing.message, missing.fix):
            found[index] = Misnamed(problem.file, missing.candidate, problem.check)
    if not found or len(found) != len(errors):
        return list(problems), []
    out = list(problems)
    for index, misnamed in found.items():
        kind = Path(misnamed.candidate).suffix.lstrip(".").upper() or "such"
        out[index] = replace(
            problems[index], severity="warning",
            message=f"no file matches {misnamed.pattern!r}; the submission's only {kind} file, "
                    f"{misnamed.candidate!r}, was given to the scoring program as it is",
            fix=f"if the scoring program cannot read it, rename it to {misnamed.pattern!r} and submit again; if it "
                "scores it, the submission is right and the bundle's aibench.json names the wrong file (the "
                "organisers are told)")
    return out, list(found.values())


def misnamed_message(misnamed: Misnamed) -> str:
    """What the organiser is told once the scoring program scored a submission whose file the
    manifest's checks named differently."""
    return (f"the manifest's checks ({misnamed.checks}) expect {misnamed.pattern!r}, but the submission holds "
            f"{misnamed.candidate!r} instead, and the scoring program scored it: the bundle's aibench.json names "
            f"the wrong file. Fix (the organiser's): write {misnamed.candidate!r}, or a pattern matching it, where "
            f"the checks' params name {misnamed.pattern!r}")


def read_failure(error: ReadError, tables: Mapping[str, TableDecl], predictions: Path) -> str:
    """A metric's table that could not be read (``error``), in words saying whose fix it is: a
    file of the submission's ``tables`` that ``predictions`` (``input/res``) lacks, while the
    scoring program scored the submission's only file of that kind, is the manifest's mistake
    (the organiser's); one inside an extra top-level folder is the participant's (move it to
    the root of the zip). Any other error is said as it is."""
    from ..data.placement import missing_file

    decl = next((d for d in tables.values() if d.file == error.file and d.source == "submission"), None)
    if error.kind != "missing_file" or decl is None:
        return str(error)
    missing = missing_file(predictions, decl.file, decl.format)
    if missing.candidate is not None:
        return (f"data {decl.name!r} names {decl.file!r}, but the submission holds {missing.candidate!r} instead (its "
                f"only file of that kind), and the scoring program scored it: the bundle's aibench.json names the "
                f"wrong file. Fix (the organiser's): set data.{decl.name}.file to {missing.candidate!r}, or a "
                "pattern matching it")
    return f"{missing.message}. Fix: {missing.fix}"
