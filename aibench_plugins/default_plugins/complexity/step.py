"""The meter ``aibench.prediction_step`` (``runs_in="scoring"``): the wall time and peak memory of
the prediction step as the host measured them, read on the scoring side from
``MeterContext.step_measurements`` (never from the participant's container).

Which measurement it takes, in order of trust: the executor's (``aibench run``: the process of
the participant's program, on the host), then the worker's (``input/res/metadata``'s
``elapsedTime``, on the platform's host); a step measured only inside the participant's container
(``ingestion``) is used last, and the measurement says so through its ``measured_by``. Each
measurement's ``details`` says which source it read. When the run has no prediction step (a result
submission) both are ``unavailable``, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aibench_plugins import ComplexityInfo, ComplexityResult, Measurement, SummarySpec

__all__ = ["METERS", "PredictionStep"]

#: who measured, most trusted first
ORDER = ("executor", "worker", "scoring", "ingestion")
NO_STEP = "the run has no prediction step (a result submission): there is nothing to measure"


class PredictionStep:
    """Wall time (s) and peak memory (MiB) of the prediction step, from the host's measurements."""

    info = ComplexityInfo(
        id="aibench.prediction_step",
        description="Wall time (s) and peak memory (MiB) of the prediction step as the host measured it (the "
                    "executor, else the worker): the raw cost of the step, container start included.",
        summaries=(SummarySpec("wall_time", "minimize", "wall time of the prediction step (s)"),
                   SummarySpec("peak_memory", "minimize", "peak memory of the prediction step (MiB)")),
        runs_in="scoring", accepts=())

    def measure(self, context: Any, **params: Any) -> ComplexityResult:
        steps = [m for m in context.step_measurements if m.step == "prediction"]
        found = (_pick(steps, "wall_time", "s", ("wall time", "elapsed")),
                 _pick(steps, "peak_memory", "MiB", ("peak memory",)))
        notes = [] if steps else [NO_STEP]
        return ComplexityResult(found, notes=tuple(notes))


def _pick(steps: Sequence[Any], name: str, unit: str, words: tuple[str, ...]) -> Measurement:
    candidates = [m for m in steps if m.unit == unit and m.value is not None
                  and any(w in m.name.lower() for w in words) and "scoring" not in m.name.lower()]
    # the participant's program's own process first (the ingestion program's wraps it and more)
    candidates.sort(key=lambda m: (ORDER.index(m.measured_by) if m.measured_by in ORDER else len(ORDER),
                                   "participant" not in m.name.lower()))
    if not candidates:
        reason = NO_STEP if not steps else f"no {name.replace('_', ' ')} of the prediction step was measured here"
        return Measurement(name, None, unit, "executor", "prediction", status="unavailable", reason=reason)
    chosen = candidates[0]
    return Measurement(name, float(chosen.value), unit, chosen.measured_by, "prediction", tool=chosen.tool or
                       chosen.measured_by, tool_version=chosen.tool_version, status="measured",
                       reason=f"read from {chosen.name!r}, measured by the {chosen.measured_by}",
                       details={"source": chosen.name, "measured_by": chosen.measured_by})


METERS = (PredictionStep,)
