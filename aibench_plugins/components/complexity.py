"""The contract of the complexity kind: meters of what a submitted model costs.

A *complexity meter* runs once per entry of the manifest's ``complexity`` section and gives
:class:`Measurement` s: parameters, MACs and FLOPs, latency relative to a reference, peak memory,
energy. Each measurement says its unit, the tool and version that measured it, whether it was
measured, estimated or could not be (``status`` with its ``reason``: never a silent estimate), and
who measured it (``measured_by``: participant code could forge a number measured in its own
process). The host turns them into leaderboard columns through the entry's ``columns`` and applies
its ``thresholds``, exactly as for the analysis kinds (:mod:`.analysis`): a measurement is a
:class:`~aibench_plugins.components.analysis.Summary` whose name is its ``name``.

Where a meter runs (its info's ``runs_in``):

* ``prediction``: in the prediction step, inside the process of the organiser's ingestion program,
  when it calls :func:`aibench_plugins.complexity.measure` on the participant's model (a
  ``torch.nn.Module`` or any callable) or :func:`aibench_plugins.complexity.measure_block` around a
  block of code. The meter gets a :class:`MeterContext` with the :class:`Workload` s (submission and
  the organiser's reference, measured in the same process, interleaved where the meter compares
  them). Its measurements are ``measured_by="ingestion"``: inside the participant's container.
  The prediction step re-creates the meter from its import path (``type(meter).__module__`` and
  ``__qualname__``), so **a prediction-side meter's class must be importable and constructible
  without arguments**; its params come from the manifest entry.
* ``scoring``: on the scoring side, from what the host measured of the steps (the executor's
  wall time and peak memory, the worker's ``elapsedTime``): ``context.step_measurements``. These are
  the trusted numbers (``measured_by`` ``executor`` or ``worker``).

The prediction side writes what it measured to ``OUTPUT/.aibench_complexity.json`` (the file's
``written_by`` and the manifest's sha256 tell it from a participant's file), which the scoring side
takes out of ``input/res`` before the original scoring program starts, as it does the
ingestion's measurements file (:mod:`aibench_plugins.runtime.measurements`).

>>> from aibench_plugins.components.complexity import ComplexityInfo, SummarySpec
>>> info = ComplexityInfo(id="acme.params", summaries=(SummarySpec("params", "minimize"),))
>>> info.runs_in
'prediction'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ..core.kinds import Accepts, ComplexityInfo, SummarySpec
from .analysis import Summary

__all__ = ["Accepts", "BlockMeter", "BlockWindow", "ComplexityInfo", "ComplexityResult", "Hardware", "MeasuredBy",
           "Measurement", "Meter", "MeterContext", "Status", "SummarySpec", "Workload"]

#: who took a measurement: ``worker`` (the platform's worker, on the host), ``executor`` (the
#: executor that ran the container, on the host), ``gateway`` (aibench's gateway of an
#: API-integrated submission, on the host: it sent every request and timed every answer),
#: ``ingestion`` (inside the participant's container: participant code could forge it),
#: ``scoring`` (the organiser's scoring container)
MeasuredBy = Literal["worker", "executor", "gateway", "ingestion", "scoring"]
#: ``measured``: read from a counter or a clock; ``estimated``: derived from a model of the
#: hardware (power x time, say), the reason says which; ``unavailable``: could not be measured
#: here, the reason says why (``value`` is then ``None``)
Status = Literal["measured", "estimated", "unavailable"]

TRUST: Mapping[str, str] = {
    "worker": "host: the platform's worker, outside the participant's container",
    "executor": "host: the executor that ran the container",
    "gateway": "host: aibench's gateway, which sent every request to the endpoint and timed every answer",
    "ingestion": "inside the participant's container: participant code could forge it",
    "scoring": "the organiser's scoring container, after the participant's run",
}


@dataclass(frozen=True)
class Hardware:
    """Where a measurement ran: the fingerprint that says whether two runs' timings compare
    (``aibench_plugins.complexity.hardware()`` reads it). ``None``: not known here."""

    cpu_model: str | None = None
    cpu_count: int | None = None
    threads: int | None = None
    memory_mb: float | None = None
    gpu_model: str | None = None
    gpu_driver: str | None = None
    cuda: str | None = None
    torch: str | None = None
    python: str | None = None
    platform: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hardware:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Measurement:
    """One number about a run, with its unit, how it was taken and who took it.

    :param name: the measurement's name within its meter (``params``, ``macs``, ``time.ratio``,
        ``latency.p90``, ``energy``); the entry's ``columns`` choose by it.
    :param value: the number, ``None`` when ``status`` is ``unavailable``.
    :param unit: ``s``, ``ms``, ``MiB``, ``J``, ``MAC``, ``FLOP``, ``count``, ``ratio``, ``bytes``...
    :param measured_by: who took it (:data:`MeasuredBy`).
    :param step: ``prediction`` or ``scoring``.
    :param tool: what measured it (``ptflops``, ``torch.utils.flop_counter``, ``time.perf_counter``,
        ``rapl``, ``nvml``, ``cgroup``) and ``tool_version``.
    :param status: :data:`Status`; ``reason`` says why when it is not ``measured``, and may also
        say what to be careful of when it is (``flagged``: two counters disagree).
    :param low: ``high``: its confidence interval, when it has one.
    :param reference: the same measurement of the organiser's reference workload in the same
        run, when there is one (what the efficiency scores divide by).
    :param flagged: something about the value needs a reader's attention (``reason`` says what);
        shown on the page and in the report.
    :param details: further aggregates for the report (counts, both counters' values, windows).
    """

    name: str
    value: float | None
    unit: str
    measured_by: MeasuredBy
    step: str
    tool: str = ""
    tool_version: str = ""
    status: Status = "measured"
    reason: str = ""
    low: float | None = None
    high: float | None = None
    reference: float | None = None
    flagged: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "details": dict(self.details), "trust": TRUST[self.measured_by]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def summary(self) -> Summary:
        """This measurement as the summary the entry's ``columns`` and ``thresholds`` read."""
        return Summary(self.name, self.value, self.low, self.high, self.reason)


@dataclass(frozen=True)
class Workload:
    """What a prediction-side meter measures: a model or any callable, and its queries.

    :param name: ``submission`` or ``reference``.
    :param predict: runs one query: ``predict(queries[i])``. For a ``torch.nn.Module`` it is the
        module called under ``torch.inference_mode()``.
    :param queries: the inputs, one query each (a batch-1 tensor, an array, a row), cycled when
        a meter needs more than there are.
    :param model: the ``torch.nn.Module`` when there is one (``None`` for a plain callable).
    :param example: one input for counting (MACs, FLOPs); ``queries[0]`` by default.
    """

    name: str
    predict: Callable[[Any], Any]
    queries: Sequence[Any]
    model: Any = None
    example: Any = None

    @property
    def example_input(self) -> Any:
        return self.example if self.example is not None else self.queries[0]


@dataclass(frozen=True)
class MeterContext:
    """What the host gives a meter.

    :param submission: the participant's workload (``None`` for a scoring-side meter, or for a
        block: :class:`BlockMeter`).
    :param reference: the organiser's reference workload, measured in the same process, or ``None``.
    :param hardware: where it runs.
    :param measured_by: who is measuring (``ingestion`` in the prediction step).
    :param seed: the entry's ``seed`` (default 0).
    :param deadline: ``time.monotonic()`` by which the meter must have returned (its time bound
        comes from the phase's execution time limit); ``None``: no bound.
    :param step_measurements: scoring side: the host's measurements of the steps (executor and
        worker wall time, peak memory), trusted.
    """

    submission: Workload | None
    reference: Workload | None
    hardware: Hardware
    measured_by: MeasuredBy = "ingestion"
    seed: int = 0
    deadline: float | None = None
    step_measurements: Sequence[Measurement] = ()


@dataclass(frozen=True)
class ComplexityResult:
    """What a meter gives: its measurements, and notes and aggregate tables for the page (each
    table a mapping with ``title``, ``columns`` and ``rows``)."""

    measurements: Sequence[Measurement] = ()
    tables: Sequence[Mapping[str, Any]] = ()
    notes: Sequence[str] = ()

    def measurement(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"measurements": [m.to_json() for m in self.measurements], "tables": [dict(t) for t in self.tables],
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComplexityResult:
        return cls(tuple(Measurement.from_json(m) for m in data.get("measurements", ())),
                   tuple(data.get("tables", ())), tuple(data.get("notes", ())))


@runtime_checkable
class Meter(Protocol):
    """What a complexity plugin registers."""

    @property
    def info(self) -> ComplexityInfo: ...

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """The measurements of one workload (or, scoring side, of the steps), with the manifest
        entry's ``params``. A meter that cannot measure something here returns it with status
        ``unavailable`` and the reason, rather than raising."""


class BlockWindow(Protocol):
    """An open measurement of a block of code: :meth:`close` ends it."""

    def close(self) -> ComplexityResult:
        """End the measurement: what happened since :meth:`BlockMeter.open`."""


@runtime_checkable
class BlockMeter(Meter, Protocol):
    """A meter that can also measure a block of code (``"block"`` in its info's ``accepts``):
    ``with aibench_plugins.complexity.measure_block(output):`` opens a window on entry and closes
    it on exit."""

    def open(self, context: MeterContext, **params: Any) -> BlockWindow:
        """Start measuring (wall time, peak memory, energy...) what runs until ``close``."""
