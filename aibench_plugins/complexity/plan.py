"""The complexity plan: which meters the prediction step runs, with what, for how long.

The host builds it from the manifest's ``complexity`` section and the plugin host
(:func:`aibench_plugins.evaluation.complexity_plan.complexity_plan`, on the host: ``aibench run``
and ``aibench wrap``, which records it in the ingestion program's ``wrap.json``), and gives it to
the ingestion program's process as the environment variable :data:`PLAN_ENV` (JSON), which
:func:`aibench_plugins.complexity.measure` reads. The format::

    {"format": 1, "manifest_sha256": "<sha256 of aibench.json>",
     "time_budget_s": 295.0,            # what the meters of the step may take together
     "time_limit_s": 600,               # the phase's execution time limit
     "deadline_unix": 1767000000.0,     # time.time() by which they must have returned (set when the
                                        # ingestion program starts: its time limit, less a margin)
     "entries": [{"key": "time", "use": "aibench.time", "import": "package.module:Class",
                  "params": {...}, "seed": 0, "accepts": ["model", "callable"], "needs": ["reference"],
                  "runs_in": "prediction"}]}

A prediction-side meter is re-created in the ingestion program's process from ``import``
(``type(meter).__module__`` and ``__qualname__``, constructed without arguments); scoring-side
entries are listed too (``runs_in: "scoring"``) and never imported there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import RuntimeRecordError

__all__ = ["MARGIN_S", "PLAN_ENV", "PLAN_FORMAT", "ComplexityPlan", "PlanEntry", "budget_for", "plan_from_env"]

#: the environment variable the host gives the ingestion program's process the plan in
PLAN_ENV = "AIBENCH_COMPLEXITY_PLAN"
PLAN_FORMAT = 1
#: seconds of the phase's time limit the meters leave unused, for the ingestion program's own work
MARGIN_S = 5.0


@dataclass(frozen=True)
class PlanEntry:
    """One entry of the manifest's ``complexity`` section, as the prediction step needs it."""

    key: str
    use: str
    import_path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    accepts: tuple[str, ...] = ("model", "callable")
    needs: tuple[str, ...] = ()
    runs_in: str = "prediction"

    @property
    def module(self) -> str:
        return self.import_path.partition(":")[0]

    @property
    def qualname(self) -> str:
        return self.import_path.partition(":")[2]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "use": self.use, "import": self.import_path, "params": dict(self.params),
                "seed": self.seed, "accepts": list(self.accepts), "needs": list(self.needs), "runs_in": self.runs_in}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanEntry:
        return cls(str(data["key"]), str(data["use"]), str(data["import"]), dict(data.get("params") or {}),
                   int(data.get("seed", 0)), tuple(str(a) for a in data.get("accepts", ("model", "callable"))),
                   tuple(str(n) for n in data.get("needs", ())), str(data.get("runs_in", "prediction")))


@dataclass(frozen=True)
class ComplexityPlan:
    """What the prediction step measures (module docstring)."""

    manifest_sha256: str
    entries: tuple[PlanEntry, ...] = ()
    time_budget_s: float = 60.0
    time_limit_s: float | None = None
    deadline_unix: float | None = None

    @property
    def prediction_entries(self) -> tuple[PlanEntry, ...]:
        """The entries whose meter runs in the prediction step, in manifest order."""
        return tuple(e for e in self.entries if e.runs_in == "prediction")

    def started(self, now: float | None = None) -> ComplexityPlan:
        """The plan with its deadline set at ``now`` (``time.time()``), the moment the host starts
        the ingestion program: the phase's time limit from then, less :data:`MARGIN_S`."""
        limit = self.time_limit_s if self.time_limit_s is not None else self.time_budget_s + MARGIN_S
        return replace(self, deadline_unix=(time.time() if now is None else now) + limit - MARGIN_S)

    def deadline(self) -> float:
        """``time.monotonic()`` by which the meters must have returned."""
        left = self.time_budget_s if self.deadline_unix is None else min(self.time_budget_s,
                                                                         self.deadline_unix - time.time())
        return time.monotonic() + max(left, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "manifest_sha256": self.manifest_sha256, "time_budget_s": self.time_budget_s,
                "time_limit_s": self.time_limit_s, "deadline_unix": self.deadline_unix, "entries": [e.to_json() for e in self.entries]}

    def to_env(self) -> str:
        """The value of :data:`PLAN_ENV`."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComplexityPlan:
        """:raises RuntimeRecordError: not a plan of this format."""
        if not isinstance(data, Mapping) or data.get("format") != PLAN_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise RuntimeRecordError(f"{PLAN_ENV} holds no complexity plan of format {PLAN_FORMAT} (found {found!r})")
        try:
            deadline, limit = data.get("deadline_unix"), data.get("time_limit_s")
            return cls(str(data["manifest_sha256"]), tuple(PlanEntry.from_json(e) for e in data.get("entries", ())),
                       float(data.get("time_budget_s", 60.0)), float(limit) if limit is not None else None,
                       float(deadline) if deadline is not None else None)
        except (KeyError, TypeError, ValueError) as error:
            raise RuntimeRecordError(f"{PLAN_ENV} holds a malformed complexity plan: {type(error).__name__}: "
                                     f"{error}") from None

    @classmethod
    def from_env(cls, text: str) -> ComplexityPlan:
        """The plan in ``text`` (the variable's value). :raises RuntimeRecordError: not one."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RuntimeRecordError(f"{PLAN_ENV} is not JSON: {error}") from None
        return cls.from_json(data)


def plan_from_env(environ: Mapping[str, str] = os.environ) -> ComplexityPlan | None:
    """The plan the host gave this process, or ``None`` when it gave none.
    :raises RuntimeRecordError: the variable holds no plan."""
    text = environ.get(PLAN_ENV)
    if not text:
        return None
    return ComplexityPlan.from_env(text)


def budget_for(time_limit_s: float) -> float:
    """What the meters of a prediction step may take of a phase's time limit ``time_limit_s``:
    half of it, less :data:`MARGIN_S` (the ingestion program predicts in the rest)."""
    return max(1.0, 0.5 * float(time_limit_s) - MARGIN_S)
