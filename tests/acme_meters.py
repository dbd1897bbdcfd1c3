"""A test-only plugin of complexity meters, registered in-process (tests/complexitykit.py adds it
to the built-ins for aibench run and aibench wrap); the prediction step imports it by name.

``acme.calls`` (prediction side, any callable or model) calls the submission once per query and
gives ``calls`` (how many) and ``outputs`` (how many distinct outputs), and with a reference
``reference.calls``; ``params.fail`` makes it raise, ``params.shout`` makes it print to stdout.
``acme.model_only`` accepts models only; ``acme.block`` measures a block (its wall time);
``acme.needs_reference`` needs the organiser's reference; ``acme.host_side`` runs on the scoring side.
"""

from __future__ import annotations

import time
from typing import Any

from aibench_plugins import ComplexityInfo, ComplexityResult, Measurement, MeterContext, Register, SummarySpec, \
    hookimpl

CALLS_SCHEMA = {"type": "object", "additionalProperties": False,
                "properties": {"fail": {"type": "boolean"}, "shout": {"type": "boolean"}}}


class Calls:
    info = ComplexityInfo(id="acme.calls", description="How many times the submission was called.",
                          summaries=(SummarySpec("calls", "minimize"), SummarySpec("outputs", "maximize"),
                                     SummarySpec("reference.calls", "minimize")),
                          params_schema=CALLS_SCHEMA)

    def measure(self, context: MeterContext, fail: bool = False, shout: bool = False) -> ComplexityResult:
        if shout:
            print("acme.calls was here")
        if fail:
            raise RuntimeError("acme.calls was told to fail")
        assert context.submission is not None
        outputs = [context.submission.predict(q) for q in context.submission.queries]
        found = [Measurement("calls", len(outputs), "count", "ingestion", "prediction", tool="acme", tool_version="1",
                             details={"deadline_left_s": (context.deadline or 0) - time.monotonic()}),
                 Measurement("outputs", len({repr(o) for o in outputs}), "count", "ingestion", "prediction")]
        if context.reference is not None:
            found.append(Measurement("reference.calls", len([context.reference.predict(q)
                                                             for q in context.reference.queries]), "count",
                                     "ingestion", "prediction"))
        return ComplexityResult(tuple(found), notes=(f"hardware python {context.hardware.python}",))


class ModelOnly:
    info = ComplexityInfo(id="acme.model_only", accepts=("model",), summaries=(SummarySpec("layers", "minimize"),))

    def measure(self, context: MeterContext) -> ComplexityResult:
        assert context.submission is not None
        model = context.submission.model
        return ComplexityResult((Measurement("layers", len(list(model.children())), "count", "ingestion",
                                             "prediction"),))


class NeedsReference:
    info = ComplexityInfo(id="acme.needs_reference", needs=("reference",),
                          summaries=(SummarySpec("ratio", "minimize"),))

    def measure(self, context: MeterContext) -> ComplexityResult:
        return ComplexityResult((Measurement("ratio", 1.0, "ratio", "ingestion", "prediction"),))


class _Window:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def close(self) -> ComplexityResult:
        return ComplexityResult((Measurement("block_s", time.perf_counter() - self.started, "s", "ingestion",
                                             "prediction", tool="time.perf_counter"),))


class Block:
    info = ComplexityInfo(id="acme.block", accepts=("block",), summaries=(SummarySpec("block_s", "minimize"),))

    def measure(self, context: MeterContext) -> ComplexityResult:
        return ComplexityResult()

    def open(self, context: MeterContext) -> _Window:
        return _Window()


class HostSide:
    info = ComplexityInfo(id="acme.host_side", runs_in="scoring", summaries=(SummarySpec("wall", "minimize"),))

    def measure(self, context: MeterContext) -> ComplexityResult:
        return ComplexityResult()


class NeedsArguments:
    info = ComplexityInfo(id="acme.needs_arguments", summaries=(SummarySpec("x", "minimize"),))

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def measure(self, context: MeterContext) -> ComplexityResult:
        return ComplexityResult()


@hookimpl
def aibench_register_complexity_meters(register: Register) -> None:
    for meter in (Calls(), ModelOnly(), NeedsReference(), Block(), HostSide(), NeedsArguments(2.0)):
        register(meter)
