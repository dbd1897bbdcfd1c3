"""Built-in submission checks on the files of a submission (names and sizes only;
no file is opened)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aibench_plugins import SubmissionProblem, check, hookimpl

_REQUIRED = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "Glob patterns relative to the submission root; each must match at least one file.",
        },
        "allow_others": {
            "type": "boolean",
            "default": True,
            "description": "When false, a file matching none of the patterns is a problem.",
        },
        "max_problems": {
            "type": "integer",
            "minimum": 1,
            "default": 20,
            "description": "Unexpected files listed before one summary problem '... and N more'.",
        },
    },
    "required": ["files"],
    "additionalProperties": False,
}

_SIZE = {
    "type": "object",
    "properties": {
        "max_file_mb": {"type": "number", "exclusiveMinimum": 0, "description": "Largest size of one file, in MiB."},
        "max_total_mb": {"type": "number", "exclusiveMinimum": 0, "description": "Largest total size, in MiB."},
    },
    "minProperties": 1,
    "additionalProperties": False,
}


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@check(id="aibench.required_files", params_schema=_REQUIRED)
def required_files(submission: Path, *, files: list[str], allow_others: bool = True,
                   max_problems: int = 20) -> Iterator[SubmissionProblem]:
    """Each pattern matches at least one file of the submission; optionally nothing else is present.
    Unexpected files are listed up to ``max_problems``, then one summary problem ``... and N more``."""
    from aibench_plugins.data import missing_file

    present = _files(submission)
    explained: set[str] = set()  # a file in a folder, or misnamed: its own problem says what to do with it
    for pattern in files:
        if not fnmatch.filter(present, pattern):  # in the words of the table checks (the session merges them)
            missing = missing_file(submission, pattern)
            explained |= {name for name in (missing.nested, missing.candidate) if name is not None}
            yield SubmissionProblem("aibench.required_files", missing.message, file=pattern, fix=missing.fix)
    if not allow_others:
        stray = [name for name in present if not any(fnmatch.fnmatch(name, pattern) for pattern in files)
                 and name not in explained]
        for name in stray[:max_problems]:
            yield SubmissionProblem("aibench.required_files", "unexpected file", file=name,
                                    fix=f"remove it; the submission may only hold {', '.join(files)}")
        if len(stray) > max_problems:
            yield SubmissionProblem("aibench.required_files", f"... and {len(stray) - max_problems} more unexpected "
                                    f"files ({len(stray)} in all)",
                                    fix=f"only the first {max_problems} problems are listed (max_problems); remove "
                                        "every file the submission may not hold and submit again")


@check(id="aibench.size_limit", params_schema=_SIZE)
def size_limit(submission: Path, *, max_file_mb: float | None = None,
               max_total_mb: float | None = None) -> Iterator[SubmissionProblem]:
    """Files and the whole submission stay under size limits (read from file metadata only)."""
    mib = 1024 * 1024
    total = 0
    for name in _files(submission):
        size = (submission / name).stat().st_size
        total += size
        if max_file_mb is not None and size > max_file_mb * mib:
            yield SubmissionProblem("aibench.size_limit",
                                    f"file is {size / mib:.1f} MiB, over the {max_file_mb:g} MiB limit", file=name,
                                    fix="reduce it (fewer digits, compression the scoring program accepts)")
    if max_total_mb is not None and total > max_total_mb * mib:
        yield SubmissionProblem("aibench.size_limit",
                                f"submission is {total / mib:.1f} MiB, over the {max_total_mb:g} MiB limit",
                                fix="remove files the scoring program does not read")


@hookimpl
def aibench_register_checks(register: Any) -> None:
    register(required_files)
    register(size_limit)


