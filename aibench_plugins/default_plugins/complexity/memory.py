"""The built-in meter ``aibench.memory``: peak memory while the model predicts, or during a block
of code (:class:`aibench_plugins.complexity.PeakMemory`).

Measurements (MiB, ``measured_by`` the context's, step ``prediction``):

* ``peak_rss``: the resident-set high-water mark of this process during the window (reset on
  entry through ``/proc/self/clear_refs``); ``estimated`` with the reason "peak since process
  start" where the mark cannot be reset. It is the whole process's (interpreter, libraries, every
  model loaded), the window's start in ``details`` (``rss_start_mib``).
* ``cuda.max_allocated``: ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats``, where torch sees CUDA; ``unavailable`` with the reason otherwise
  (the CUDA path was not checked on a GPU).

For a workload the window runs ``predict`` on the entry's ``queries`` queries (16 by default,
cycled when the workload has fewer), stopping early at the context's deadline (a note says so).
With a reference workload, the reference is measured first in a window of its own (its values
are the measurements' ``reference``), then the submission, whose window starts with whatever
the reference left resident (``rss_start_mib`` in ``details`` shows it; the high-water mark
never goes below the resident set at the window's start). The youngest garbage generation is
collected before each window (``gc.collect(0)``): a full collection costs about 0.2 s once torch
is loaded, and freed objects seldom lower the resident set anyway. As a block meter
(``"block"``), :meth:`MemoryMeter.open` opens a window and its ``close`` reads it.
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from typing import Any

from aibench_plugins import (ComplexityInfo, ComplexityResult, InvalidParamsError, Measurement, MeterContext,
                             SummarySpec, Workload)
from aibench_plugins.complexity import MemoryPeak, PeakMemory

__all__ = ["METERS", "MemoryMeter", "MemoryWindow"]

DEFAULT_QUERIES = 16
_PARAMS = {
    "type": "object",
    "properties": {
        "queries": {"type": "integer", "minimum": 1, "default": DEFAULT_QUERIES,
                    "description": "How many queries the model predicts in the window (cycled)."},
    },
    "additionalProperties": False,
}


class MemoryWindow:
    """An open ``aibench.memory`` window on a block of code: :meth:`close` ends it."""

    def __init__(self, context: MeterContext) -> None:
        self._context = context
        gc.collect(0)
        self._window = PeakMemory().start()

    def close(self) -> ComplexityResult:
        """``peak_rss`` and ``cuda.max_allocated`` since the window opened."""
        peak = self._window.stop()
        return ComplexityResult(peak.measurements(self._context.measured_by))


class MemoryMeter:
    """``aibench.memory`` (module docstring)."""

    info = ComplexityInfo(
        id="aibench.memory",
        description="Peak memory while the model predicts (or during a block of code): the process's peak resident "
                    "set (RSS) and, where a GPU is present, CUDA memory allocated by torch.",
        params_schema=_PARAMS,
        summaries=(SummarySpec("peak_rss", "minimize", "Peak resident set of the process during the window (MiB)."),
                   SummarySpec("cuda.max_allocated", "minimize",
                               "Peak CUDA memory allocated by torch during the window (MiB).")),
        accepts=("model", "callable", "block"))

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """``peak_rss`` and ``cuda.max_allocated`` while the submission predicts ``queries``
        queries (module docstring)."""
        queries = _queries(params)
        notes: list[str] = []
        reference = None
        if context.reference is not None:
            reference, _, note = _run(context.reference, queries, context.deadline)
            notes += [note] if note else []
        if context.submission is None:
            why = "no workload to measure"
            return ComplexityResult(tuple(
                Measurement(name, None, "MiB", context.measured_by, "prediction", status="unavailable", reason=why)
                for name in ("peak_rss", "cuda.max_allocated")))
        submission, done, note = _run(context.submission, queries, context.deadline)
        notes += [note] if note else []
        if submission is None:
            why = f"the {context.submission.name} workload has no queries to predict"
            return ComplexityResult(tuple(
                Measurement(name, None, "MiB", context.measured_by, "prediction", status="unavailable", reason=why)
                for name in ("peak_rss", "cuda.max_allocated")), notes=tuple(notes))
        rss, cuda = submission.measurements(context.measured_by, reference=reference)
        rss = replace(rss, details={**rss.details, "queries": done})
        return ComplexityResult((rss, cuda), notes=tuple(notes))

    def open(self, context: MeterContext, **params: Any) -> MemoryWindow:
        """A window on a block of code; ``queries`` does not apply to a block and is ignored."""
        _queries(params)
        return MemoryWindow(context)


def _queries(params: dict[str, Any]) -> int:
    unknown = set(params) - {"queries"}
    if unknown:
        raise InvalidParamsError(f"aibench.memory takes the param queries, not {', '.join(sorted(unknown))}")
    queries = params.get("queries", DEFAULT_QUERIES)
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise InvalidParamsError(f"aibench.memory: queries must be an integer >= 1, got {queries!r}")
    return queries


def _run(workload: Workload, queries: int, deadline: float | None) -> tuple[MemoryPeak | None, int, str]:
    """The peak while ``workload`` predicts ``queries`` queries, how many it predicted, and a
    note when the deadline cut it short; ``None`` for a workload without queries."""
    if not workload.queries:
        return None, 0, ""
    done = 0
    gc.collect(0)
    with PeakMemory() as window:
        for done in range(1, queries + 1):
            workload.predict(workload.queries[(done - 1) % len(workload.queries)])
            if deadline is not None and time.monotonic() >= deadline:
                break
    note = "" if done == queries else (
        f"the {workload.name} workload predicted {done} of {queries} queries before the deadline")
    return window.stop(), done, note


METERS = (MemoryMeter,)
