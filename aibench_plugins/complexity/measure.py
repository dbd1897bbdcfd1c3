"""What an organiser's ingestion program calls: :func:`measure` on the participant's model, and
:func:`measure_block` around a block of code.

Both run the prediction-side meters of the plan the host gave this process
(:data:`~aibench_plugins.complexity.plan.PLAN_ENV`, :mod:`.plan`), each in turn and each isolated:
a meter that raises is recorded as that entry's error (one line on stderr, no traceback), never
raised to the ingestion program; what a meter prints goes to stderr, never to the program's
stdout. What they measured is written to ``OUTPUT/.aibench_complexity.json`` (:mod:`.file`) for
the scoring side. Without a plan (an unwrapped bundle on a platform, or a run of the program by
hand) nothing is measured: one line on stderr says so, and the report is empty.

A ``torch.nn.Module`` is called under ``torch.inference_mode()``; torch is imported only when the
model is a module (it then is already imported), never for a plain callable.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..components.complexity import ComplexityResult, Hardware, Measurement, MeterContext, Workload
from ..core.errors import InvalidValueError, RuntimeRecordError
from .file import COMPLEXITY_FILE, EntryRecord, write_complexity_file
from .plan import ComplexityPlan, PlanEntry, plan_from_env

__all__ = ["BlockReport", "ComplexityReport", "measure", "measure_block"]


@dataclass(frozen=True)
class ComplexityReport:
    """What :func:`measure` (or a :func:`measure_block` window) measured.

    :param entries: one record per entry measured (:class:`~.file.EntryRecord`: its result, or its error).
    :param hardware: where it ran.
    :param path: the file written (``None`` when nothing was measured).
    :param planned: whether the host gave this process a plan.
    :param message: why nothing was measured, when nothing was.
    """

    entries: tuple[EntryRecord, ...] = ()
    hardware: Hardware = field(default_factory=Hardware)
    path: Path | None = None
    planned: bool = False
    message: str = ""

    def entry(self, key: str) -> EntryRecord | None:
        return next((e for e in self.entries if e.key == key), None)

    def measurement(self, key: str, name: str) -> Measurement | None:
        """The measurement ``name`` of entry ``key``, or ``None``."""
        found = self.entry(key)
        return found.result.measurement(name) if found is not None and found.result is not None else None

    @property
    def failed(self) -> tuple[EntryRecord, ...]:
        return tuple(e for e in self.entries if e.error is not None)


def measure(model_or_callable: Any, queries: Sequence[Any], output: str | Path, *, reference: Any = None,
            reference_queries: Sequence[Any] | None = None, example: Any = None) -> ComplexityReport:
    """Run the plan's prediction-side meters on ``model_or_callable`` (a ``torch.nn.Module``, or any
    callable taking one query) and, when given, the organiser's ``reference`` (measured in the same
    process, on ``reference_queries``, by default ``queries``); write what they measured to
    ``output/.aibench_complexity.json``. ``queries``: the inputs, one query each (a batch-1 tensor,
    a row); ``example``: one input for counting (MACs, FLOPs), by default ``queries[0]``.

    Never raises for a meter that fails (its entry records the error).
    :raises InvalidValueError: the call itself is wrong (no queries, a model that cannot be called,
        no output folder), checked before anything else so that it shows on the first local run.
    """
    submission = _workload("submission", model_or_callable, queries, example)
    against = None
    if reference is not None:
        against = _workload("reference", reference, queries if reference_queries is None else reference_queries,
                            example if reference_queries is None else None)
    folder = _output(output)
    plan, message = _plan()
    if plan is None:
        return ComplexityReport(message=message)
    hardware = _hardware()
    entries = [e for e in plan.prediction_entries if "model" in e.accepts or "callable" in e.accepts]
    records = _run_entries(plan, entries, hardware, lambda meter, entry, deadline: _measure_one(
        meter, entry, deadline, submission, against, hardware))
    return _written(plan, folder, hardware, records)


@contextlib.contextmanager
def measure_block(output: str | Path, *, name: str = "block") -> Iterator[BlockReport]:
    """``with measure_block(output):``: the plan's block meters (``"block"`` in their info's
    ``accepts``) measure what runs inside; on exit their measurements are written to
    ``output/.aibench_complexity.json`` (entries recorded with ``block=name``). It yields a
    :class:`BlockReport` whose ``report`` is set on exit, whether or not the block raised; an
    exception of the block itself is raised on as it is."""
    folder = _output(output)
    report = BlockReport()
    plan, message = _plan()
    if plan is None:
        report.report = ComplexityReport(message=message)
        yield report
        return
    hardware = _hardware()
    entries = [e for e in plan.prediction_entries if "block" in e.accepts]
    windows: list[tuple[PlanEntry, Any, float]] = []
    opened: list[EntryRecord] = []
    for entry in entries:
        started = time.monotonic()
        meter, error = _meter(entry)
        if meter is None:
            opened.append(EntryRecord(entry.key, entry.use, None, error, time.monotonic() - started, name))
            continue
        context = MeterContext(None, None, hardware, "ingestion", entry.seed, plan.deadline())
        try:
            with _to_stderr():
                window = meter.open(context, **dict(entry.params))
        except Exception as caught:  # noqa: BLE001 - a meter never fails the ingestion program
            opened.append(_failed(entry, caught, started, name))
            continue
        windows.append((entry, window, started))
    try:
        yield report
    finally:
        records = list(opened)
        for entry, window, started in reversed(windows):  # the innermost window closes first
            try:
                with _to_stderr():
                    result = window.close()
                records.append(EntryRecord(entry.key, entry.use, _checked(entry, result), None,
                                           time.monotonic() - started, name))
            except Exception as caught:  # noqa: BLE001
                records.append(_failed(entry, caught, started, name))
        order = {e.key: i for i, e in enumerate(entries)}
        records.sort(key=lambda r: order.get(r.key, 0))
        report.report = _written(plan, folder, hardware, records)


class BlockReport:
    """What :func:`measure_block` yields: ``report``, the :class:`ComplexityReport` of the window,
    is ``None`` inside the block and set on exit."""

    def __init__(self) -> None:
        self.report: ComplexityReport | None = None


# -- the entries ------------------------------------------------------------------------

def _run_entries(plan: ComplexityPlan, entries: Sequence[PlanEntry], hardware: Hardware,
                 run: Callable[[Any, PlanEntry, float], ComplexityResult]) -> list[EntryRecord]:
    """Each entry in turn, with a fair share of what is left of the plan's time as its deadline."""
    records: list[EntryRecord] = []
    end = plan.deadline()
    for index, entry in enumerate(entries):
        started = time.monotonic()
        share = (end - started) / (len(entries) - index)
        meter, error = _meter(entry)
        if meter is None:
            records.append(EntryRecord(entry.key, entry.use, None, error, time.monotonic() - started))
            continue
        try:
            with _to_stderr():
                result = run(meter, entry, started + max(share, 0.0))
            records.append(EntryRecord(entry.key, entry.use, _checked(entry, result), None,
                                       time.monotonic() - started))
        except Exception as caught:  # noqa: BLE001 - a meter never fails the ingestion program
            records.append(_failed(entry, caught, started))
    return records


def _measure_one(meter: Any, entry: PlanEntry, deadline: float, submission: Workload, reference: Workload | None,
                 hardware: Hardware) -> ComplexityResult:
    info = getattr(meter, "info", None)
    accepts = tuple(getattr(info, "accepts", entry.accepts))
    needs = tuple(getattr(info, "needs", entry.needs))
    kind = "model" if submission.model is not None else "callable"
    if kind not in accepts:
        return _unavailable(meter, entry, f"{entry.use} measures {_accepted(accepts)}; the ingestion program gave "
                                          f"{'a torch.nn.Module' if kind == 'model' else 'a plain callable'}")
    if "reference" in needs and reference is None:
        raise InvalidValueError(f"{entry.use} compares the submission with the organiser's reference workload, and "
                                "measure() was given none: the organiser's ingestion program must pass reference= "
                                "(the organiser's to fix)")
    context = MeterContext(submission, reference, hardware, "ingestion", entry.seed, deadline)
    result: ComplexityResult = meter.measure(context, **dict(entry.params))  # _run_entries checks its type
    return result


def _unavailable(meter: Any, entry: PlanEntry, reason: str) -> ComplexityResult:
    """Every measurement the meter declares (its summaries without wildcards), unavailable for ``reason``."""
    info = getattr(meter, "info", None)
    names = [s.pattern for s in getattr(info, "summaries", ()) if not any(c in s.pattern for c in "*?[{")]
    return ComplexityResult(tuple(Measurement(name, None, "", "ingestion", "prediction", status="unavailable",
                                              reason=reason) for name in names), notes=(reason,))


def _accepted(accepts: Sequence[str]) -> str:
    words = {"model": "a torch.nn.Module", "callable": "any callable", "block": "a block of code"}
    return " or ".join(words.get(a, a) for a in accepts) or "nothing"


def _checked(entry: PlanEntry, result: Any) -> ComplexityResult:
    """The meter's result, its measurements said to be the ingestion's, in the prediction step, and a
    value that is not a finite number said to be unavailable.
    :raises RuntimeRecordError: the meter returned something else than a ComplexityResult."""
    if not isinstance(result, ComplexityResult):
        raise RuntimeRecordError(f"{entry.use} returned {type(result).__name__}, not a ComplexityResult (the meter's "
                                 "author's to fix)")
    fixed = []
    for m in result.measurements:
        m = replace(m, measured_by="ingestion", step="prediction")
        if m.value is not None and not _finite(m.value):
            m = replace(m, value=None, status="unavailable", reason=(m.reason + "; " if m.reason else "")
                        + f"the meter gave {m.value!r}, which is not a finite number")
        fixed.append(replace(m, low=m.low if _finite(m.low) else None, high=m.high if _finite(m.high) else None,
                             reference=m.reference if _finite(m.reference) else None))
    return replace(result, measurements=tuple(fixed))


def _failed(entry: PlanEntry, error: BaseException, started: float, block: str | None = None) -> EntryRecord:
    message = f"{type(error).__name__}: {error}"
    _say(f"complexity meter {entry.use} [{entry.key}] failed: {message}")
    return EntryRecord(entry.key, entry.use, None, message, time.monotonic() - started, block)


def _meter(entry: PlanEntry) -> tuple[Any, str | None]:
    """The entry's meter, re-created from its import path; or ``None`` and why not."""
    try:
        with _to_stderr():
            target: Any = importlib.import_module(entry.module)
            for part in entry.qualname.split("."):
                target = getattr(target, part)
            return target(), None
    except Exception as error:  # noqa: BLE001 - recorded as the entry's error
        message = (f"the meter could not be re-created from {entry.import_path!r} in the prediction step: "
                   f"{type(error).__name__}: {error} (a prediction-side meter's class must be importable and "
                   "constructible without arguments)")
        _say(f"complexity meter {entry.use} [{entry.key}]: {message}")
        return None, message


# -- the call ---------------------------------------------------------------------------

def _workload(name: str, target: Any, queries: Any, example: Any) -> Workload:
    """``target`` as a workload: a ``torch.nn.Module`` is called under ``torch.inference_mode()``."""
    if not callable(target):
        raise InvalidValueError(f"measure() needs the {name} as a torch.nn.Module or a callable taking one query; got "
                                f"{type(target).__name__}")
    if isinstance(queries, (str, bytes)) or not hasattr(queries, "__len__") or not hasattr(queries, "__getitem__"):
        raise InvalidValueError(f"measure() needs the {name}'s queries as a sequence (a list of inputs, one query "
                                f"each); got {type(queries).__name__}")
    if len(queries) == 0:
        raise InvalidValueError(f"measure() was given no queries for the {name}: give at least one input")
    module = _torch_module(target)
    if module is None:
        return Workload(name, target, queries, None, example)
    torch = sys.modules["torch"]

    def predict(query: Any, _model: Any = target) -> Any:
        with torch.inference_mode():
            return _model(query)

    return Workload(name, predict, queries, target, example)


def _torch_module(target: Any) -> Any:
    """``target`` when it is a ``torch.nn.Module`` (torch is then already imported), else ``None``."""
    torch = sys.modules.get("torch")
    nn = getattr(torch, "nn", None) if torch is not None else None
    module_type = getattr(nn, "Module", None)
    return target if module_type is not None and isinstance(target, module_type) else None


def _output(output: str | Path) -> Path:
    folder = Path(output)
    if not folder.is_dir():
        raise InvalidValueError(f"measure() writes into the prediction step's output folder; {str(folder)!r} is not a "
                                "folder (pass the ingestion program's output argument)")
    return folder


def _plan() -> tuple[ComplexityPlan | None, str]:
    try:
        plan = plan_from_env()
    except RuntimeRecordError as error:
        message = f"complexity meters not run: {error}"
        _say(message)
        return None, message
    if plan is None:
        message = ("complexity meters not run: no plan in the environment (AIBENCH_COMPLEXITY_PLAN): this is not a "
                   "run of aibench run or of a bundle wrapped by aibench wrap")
        _say(message)
        return None, message
    return plan, ""


def _hardware() -> Hardware:
    """Where this runs: ``aibench_plugins.complexity.hardware()`` when that module is present, else
    what the standard library says."""
    try:
        module = importlib.import_module("aibench_plugins.complexity.hardware")
        found = module.hardware()
        if isinstance(found, Hardware):
            return found
    except Exception:  # noqa: BLE001 - the fingerprint is best effort: what the standard library says
        pass
    import os
    import platform

    return Hardware(cpu_model=platform.processor() or None, cpu_count=os.cpu_count(),
                    python=platform.python_version(), platform=platform.platform())


def _written(plan: ComplexityPlan, folder: Path, hardware: Hardware, records: Sequence[EntryRecord]) -> ComplexityReport:
    try:
        path: Path | None = write_complexity_file(folder, plan.manifest_sha256, hardware, records)
    except OSError as error:
        _say(f"the complexity measurements could not be written to {folder / COMPLEXITY_FILE}: {error}")
        path = None
    return ComplexityReport(tuple(records), hardware, path, True)


@contextlib.contextmanager
def _to_stderr() -> Iterator[None]:
    """What a meter prints goes to stderr: the ingestion program's stdout stays its own."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _say(message: str) -> None:
    sys.stderr.write(f"[aibench] {message}\n")
    sys.stderr.flush()


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
