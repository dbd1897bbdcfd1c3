"""The built-in meter ``aibench.macs``: multiply-accumulates and floating-point operations of one
forward pass of the model, counted by two tools and cross-checked.

* ``macs`` (unit ``MAC``): ptflops, the entry's ``backend`` (``aten`` by default, ``pytorch``)
  passed to it explicitly; ``tool`` ``ptflops``, its version in ``tool_version``, the backend in
  ``details``.
* ``flops`` (unit ``FLOP``): ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per MAC), with
  formulas added for the CPU SDPA kernel and the fused multi-head attention.

Both count the model on the workload's example input (``Workload.example_input``: the ``example``
given to ``measure``, else the first query) as it is, batch included. When FLOPs and 2 x MACs
differ by more than the entry's ``tolerance`` (relative, 0.05 by default) both measurements are
``flagged`` and their reason names both numbers; both measurements' ``details`` always hold both
counters' numbers. Attention is where they part: ptflops does not see
``F.scaled_dot_product_attention`` (nor the attention inside ``nn.MultiheadAttention``), and the
flag says so; how the counters are run and what each counts: :mod:`aibench_plugins.complexity`'s
counting module, whose docstring has the known answers.

A plain callable has no operator graph to count: both are ``unavailable`` with the reason; so is
``macs`` when ptflops is not installed (``pip install ptflops``, the ``complexity`` extra), ``flops``
then still counted and not cross-checked. With a reference workload that has a model, each
measurement's ``reference`` is the reference's count.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from aibench_plugins import (ComplexityInfo, ComplexityResult, InvalidParamsError, Measurement, MeterContext,
                             SummarySpec, Workload)
from aibench_plugins.complexity import (BACKENDS, DEFAULT_TOLERANCE, CountCheck, CountingError, count_flops,
                                        count_macs, cross_check)

__all__ = ["METERS", "MacsMeter"]

_PARAMS = {
    "type": "object",
    "properties": {
        "backend": {"enum": list(BACKENDS), "default": BACKENDS[0],
                    "description": "ptflops' backend, passed to it explicitly: aten (a dispatch mode counting matrix "
                                   "products and convolutions) or pytorch (module hooks)."},
        "tolerance": {"type": "number", "minimum": 0, "default": DEFAULT_TOLERANCE,
                      "description": "Relative difference between FLOPs and 2 x MACs beyond which both are flagged."},
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class _Counts:
    """One workload's counts; a ``None`` count with its reason when it could not be counted."""

    macs: int | None
    macs_reason: str
    ptflops_version: str
    flops: int | None
    flops_reason: str
    example_shape: list[int] | None

    def check(self, backend: str, tolerance: float) -> CountCheck | None:
        if self.macs is None or self.flops is None:
            return None
        return cross_check(self.macs, self.flops, backend=backend, tolerance=tolerance)


class MacsMeter:
    """``aibench.macs`` (module docstring)."""

    info = ComplexityInfo(
        id="aibench.macs",
        description="Multiply-accumulates (ptflops, its backend named) and FLOPs (PyTorch's FlopCounterMode) of one "
                    "forward pass on the example input, cross-checked: beyond the tolerance both are flagged.",
        params_schema=_PARAMS,
        summaries=(SummarySpec("macs", "minimize", "Multiply-accumulates of one forward pass (ptflops)."),
                   SummarySpec("flops", "minimize", "Floating-point operations of one forward pass "
                                                    "(torch.utils.flop_counter).")),
        accepts=("model",))

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """``macs`` and ``flops`` of the submission's model (module docstring); params
        ``backend`` and ``tolerance``."""
        backend, tolerance = _params(params)
        submission = _count(context.submission, backend)
        reference = _count(context.reference, backend) if context.reference is not None else None
        check = submission.check(backend, tolerance)
        reference_check = None if reference is None else reference.check(backend, tolerance)
        details: dict[str, Any] = {
            "ptflops_backend": backend, "ptflops_macs": submission.macs, "flop_counter_flops": submission.flops,
            "tolerance": tolerance, "example_shape": submission.example_shape}
        if check is not None:
            details["relative_difference"] = check.relative_difference
        if reference is not None:
            details["reference"] = {"ptflops_macs": reference.macs, "flop_counter_flops": reference.flops,
                                    **({} if reference_check is None else {
                                        "relative_difference": reference_check.relative_difference,
                                        "flagged": reference_check.flagged})}
        flagged = check is not None and check.flagged
        torch = sys.modules.get("torch")
        macs = Measurement(
            "macs", submission.macs, "MAC", context.measured_by, "prediction", tool="ptflops",
            tool_version=submission.ptflops_version, status="measured" if submission.macs is not None else "unavailable",
            reason=_reason(submission.macs_reason, check, submission.flops_reason, "torch.utils.flop_counter"),
            reference=None if reference is None else reference.macs, flagged=flagged, details=details)
        flops = Measurement(
            "flops", submission.flops, "FLOP", context.measured_by, "prediction", tool="torch.utils.flop_counter",
            tool_version="" if torch is None else str(torch.__version__),
            status="measured" if submission.flops is not None else "unavailable",
            reason=_reason(submission.flops_reason, check, submission.macs_reason, "ptflops"),
            reference=None if reference is None else reference.flops, flagged=flagged, details=details)
        notes = []
        if reference is not None and reference.macs is None and reference.flops is None:
            notes.append(f"no reference counts: {reference.macs_reason}")
        if reference_check is not None and reference_check.flagged:
            notes.append(f"the reference model's counts are flagged too: {reference_check.reason}")
        table = {"title": "MACs and FLOPs: the two counters",
                 "columns": ["counter", "version", "unit", "submission", "reference"],
                 "rows": [[f"ptflops ({backend} backend)", submission.ptflops_version, "MAC", submission.macs,
                           None if reference is None else reference.macs],
                          ["torch.utils.flop_counter", flops.tool_version, "FLOP", submission.flops,
                           None if reference is None else reference.flops]]}
        return ComplexityResult((macs, flops), tables=(table,), notes=tuple(notes))


def _params(params: dict[str, Any]) -> tuple[str, float]:
    unknown = set(params) - {"backend", "tolerance"}
    if unknown:
        raise InvalidParamsError(f"aibench.macs takes the params backend and tolerance, not {', '.join(sorted(unknown))}")
    backend = params.get("backend", BACKENDS[0])
    if backend not in BACKENDS:
        raise InvalidParamsError(f"aibench.macs: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    tolerance = params.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise InvalidParamsError(f"aibench.macs: tolerance must be a number >= 0, got {tolerance!r}")
    return backend, float(tolerance)


def _count(workload: Workload | None, backend: Any) -> _Counts:
    if workload is None:
        return _Counts(None, "no workload to measure", "", None, "no workload to measure", None)
    if workload.model is None:
        why = f"the {workload.name} workload is a plain callable: counting operations needs a torch.nn.Module"
        return _Counts(None, why, "", None, why, None)
    if workload.example is None and not workload.queries:
        why = f"the {workload.name} workload has no example input and no queries to count on"
        return _Counts(None, why, "", None, why, None)
    example = workload.example_input
    shape = getattr(example, "shape", None)
    macs: int | None = None
    macs_reason = version = ""
    try:
        macs, version = count_macs(workload.model, example, backend)
    except CountingError as error:
        macs_reason = error.reason
    flops: int | None = None
    flops_reason = ""
    try:
        flops = count_flops(workload.model, example)
    except CountingError as error:
        flops_reason = error.reason
    return _Counts(macs, macs_reason, version, flops, flops_reason, None if shape is None else [int(n) for n in shape])


def _reason(own: str, check: CountCheck | None, other: str, other_tool: str) -> str:
    if own:
        return own
    if check is not None:
        return check.reason
    return f"not cross-checked: {other_tool} could not count ({other})"


METERS = (MacsMeter,)
