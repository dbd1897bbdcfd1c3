"""The built-in meter ``aibench.params``: a model's parameters, total and trainable, and its size
on disk (:func:`aibench_plugins.complexity.count_parameters`).

Measurements (``measured_by`` the context's, step ``prediction``): ``params`` (count: every
parameter, frozen ones included, as NTIRE counts them), ``params.trainable`` (count:
``requires_grad``), ``model_size`` (bytes of ``torch.save(model.state_dict())``). With a reference
workload that has a model, each measurement's ``reference`` is the reference's value (what the
efficiency scores divide by). A plain callable has no parameters to count: the three are
``unavailable`` with the reason.
"""

from __future__ import annotations

import sys
from typing import Any

from aibench_plugins import ComplexityInfo, ComplexityResult, Measurement, MeterContext, SummarySpec, Workload
from aibench_plugins.complexity import CountingError, ParameterCount, count_parameters

__all__ = ["METERS", "ParamsMeter"]

NAMES = ("params", "params.trainable", "model_size")
_UNITS = {"params": "count", "params.trainable": "count", "model_size": "bytes"}
_TOOLS = {"params": "torch.nn.Module.parameters", "params.trainable": "torch.nn.Module.parameters",
          "model_size": "torch.save"}


class ParamsMeter:
    """``aibench.params`` (module docstring)."""

    info = ComplexityInfo(
        id="aibench.params",
        description="Parameters of the model (all of them, and the trainable ones) and its size on disk (bytes of "
                    "torch.save of its state dict), with the reference model's for ratios.",
        summaries=(SummarySpec("params", "minimize", "Parameters of the model, frozen ones included."),
                   SummarySpec("params.trainable", "minimize", "Parameters that require grad."),
                   SummarySpec("model_size", "minimize", "Bytes of torch.save(model.state_dict()).")),
        accepts=("model",))

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """``params``, ``params.trainable`` and ``model_size`` of the submission's model; the
        entry takes no params (the host validates them against the empty schema)."""
        submission, why = _count(context.submission)
        reference, reference_why = _count(context.reference) if context.reference is not None else (None, "")
        notes = [] if context.reference is None or reference is not None else [
            f"no reference values: {reference_why}"]
        values = None if submission is None else _values(submission)
        reference_values = None if reference is None else _values(reference)
        torch = sys.modules.get("torch")
        measurements = tuple(
            Measurement(name, None if values is None else values[name], _UNITS[name], context.measured_by, "prediction",
                        tool=_TOOLS[name], tool_version="" if torch is None else str(torch.__version__),
                        status="measured" if values is not None else "unavailable", reason=why,
                        reference=None if reference_values is None else reference_values[name],
                        details=_details(name, submission))
            for name in NAMES)
        return ComplexityResult(measurements, notes=tuple(notes))


def _count(workload: Workload | None) -> tuple[ParameterCount | None, str]:
    if workload is None:
        return None, "no workload to measure"
    if workload.model is None:
        return None, f"the {workload.name} workload is a plain callable: parameters need a torch.nn.Module"
    try:
        return count_parameters(workload.model), ""
    except CountingError as error:
        return None, error.reason


def _values(count: ParameterCount) -> dict[str, float]:
    return {"params": count.total, "params.trainable": count.trainable, "model_size": count.size_bytes}


def _details(name: str, count: ParameterCount | None) -> dict[str, Any]:
    if count is None:
        return {}
    if name == "params":
        return {"frozen": count.total - count.trainable}
    if name == "model_size":
        return {"format": "torch.save(model.state_dict()), buffers included"}
    return {}


METERS = (ParamsMeter,)
