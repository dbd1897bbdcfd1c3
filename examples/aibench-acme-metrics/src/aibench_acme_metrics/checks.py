"""``acme.no_empty_files``: refuse a submission holding an empty file, a frequent sign of
an export that crashed half-way, before any scoring time is spent on it."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from pathlib import Path

from aibench_plugins import SubmissionProblem, check

_PARAMS = {
    "type": "object",
    "properties": {
        "ignore": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": [],
            "description": "Glob patterns (relative to the submission root) of files that may be empty.",
        },
    },
    "additionalProperties": False,
}


@check(id="acme.no_empty_files", params_schema=_PARAMS)
def no_empty_files(submission: Path, *, ignore: Sequence[str] = ()) -> Iterator[SubmissionProblem]:
    """No file of the submission is empty (file sizes only; no file is opened)."""
    for path in sorted(submission.rglob("*")):
        name = path.relative_to(submission).as_posix()
        if path.is_file() and path.stat().st_size == 0 and not any(fnmatch.fnmatch(name, p) for p in ignore):
            yield SubmissionProblem("acme.no_empty_files", "file is empty (0 bytes)", file=name,
                                    fix="export the predictions again, or remove the file from the zip")
