"""Conformance checks for submission checks (see :mod:`aibench_plugins.testing`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..components.check import SubmissionProblem
from ..core.kinds import CheckInfo
from .metrics import _NetworkBlocked, _NetworkGuard

__all__ = ["check_check"]


# -- submission checks ----------------------------------------------------------------------


def check_check(check: Any, *, good: Path | str, bad: Path | str, params: Mapping[str, Any] | None = None) -> None:
    """Check a submission check on two submission folders; raise :class:`AssertionError`
    naming the check when it misbehaves.

    ``good`` must give no problem; ``bad`` must give at least one, every problem is a
    :class:`~aibench_plugins.SubmissionProblem` attributed to the check's id with a
    relative file path, and at least one names a file or an item and says how to fix
    it. The check must not open a network connection.
    """
    check_id = getattr(getattr(check, "info", None), "id", repr(check))
    params = dict(params or {})

    def fail(message: str) -> AssertionError:
        return AssertionError(f"check {check_id!r} failed: {message}")

    info = getattr(check, "info", None)
    if not isinstance(info, CheckInfo):
        raise fail(f"its 'info' is {type(info).__name__}, expected aibench_plugins.CheckInfo")
    if type(info).from_json(json.loads(json.dumps(info.to_json()))) != info:
        raise fail("info changes through JSON; use lists, dicts, strings and numbers only in params_schema")
    import jsonschema_rs

    errors = [e.message for e in jsonschema_rs.validator_for(dict(info.params_schema)).iter_errors(params)]
    if errors:
        raise fail(f"params {params!r} do not match info.params_schema: {'; '.join(errors)}")
    if not callable(getattr(check, "run", None)):
        raise fail("it has no run(submission, **params) method (the @check decorator provides one)")

    def run(folder: Path | str) -> list[SubmissionProblem]:
        with _NetworkGuard() as network:
            try:
                problems = list(check.run(Path(folder), **params))
            except _NetworkBlocked:
                problems = []
        if network.attempts:
            raise fail(f"it opened a network connection ({'; '.join(network.attempts)}); checks run offline")
        for problem in problems:
            if not isinstance(problem, SubmissionProblem):
                raise fail(f"it returned {problem!r}, expected aibench_plugins.SubmissionProblem objects")
            if problem.check != check_id:
                raise fail(f"problem {str(problem)!r} is attributed to {problem.check!r} instead of {check_id!r}")
            if problem.file is not None and Path(problem.file).is_absolute():
                raise fail(f"problem {str(problem)!r} gives an absolute path; give it relative to the submission "
                           "root, as the participant sees it in their zip")
        return problems

    found = run(good)
    if found:
        raise fail(f"the good submission {str(good)!r} gives {len(found)} problem(s): "
                   f"{'; '.join(map(str, found))}")
    found = run(bad)
    if not found:
        raise fail(f"the bad submission {str(bad)!r} gives no problem")
    if not any((p.file or p.item) and p.fix for p in found):
        raise fail(f"no problem of the bad submission names a file or an item and a fix: {'; '.join(map(str, found))}; "
                   "give SubmissionProblem(file=... or item=..., fix=...) so participants know what to change")


