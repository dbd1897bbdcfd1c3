"""The built-in meter ``aibench.time``: the time-complexity metric.

The submission's latency measured as MLPerf LoadGen's SingleStream scenario does (warm-up
excluded, the first call reported apart, at least ``min_queries`` queries or a time bound, p50,
p90 and p99), its offline throughput, and, when the organiser's ingestion program gives a
reference workload, the **time ratio**: the two run interleaved in the same process (rounds
``R S | S R | ...``), each round's ratio of median latencies, their median over rounds with a
bootstrap confidence interval. A ratio measured on one machine compares with a ratio measured on
another, where raw milliseconds do not. How: :mod:`aibench_plugins.complexity.timing`, and
docs/complexity.md, which walks through this module as the example of a meter.

Measurements (all ``measured_by`` the ingestion process, inside the participant's container):
``time.ratio`` (ratio, with ``low``/``high``), ``latency.first``, ``latency.p50``,
``latency.p90``, ``latency.p99`` (ms, each with the reference's as ``reference``) and
``throughput`` (queries/s). Without a reference ``time.ratio`` is ``unavailable``, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aibench_plugins import (ComplexityInfo, ComplexityResult, InvalidParamsError, Measurement, MeterContext,
                             SummarySpec)
from aibench_plugins.complexity import (TIMING_DEFAULTS, TIMING_TOOL, TIMING_TOOL_VERSION, LatencyStats, TimeRatio,
                                       measure_latency, time_ratio)

__all__ = ["NO_REFERENCE", "TimeMeter"]

#: the reason ``time.ratio`` is unavailable when the call gives no reference workload
NO_REFERENCE = "no reference workload: the ingestion program's call to measure() gives none"

_WHOLE = {"type": "integer", "minimum": 1}
_SECONDS = {"type": "number", "minimum": 0}
PARAMS: Mapping[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "threads": {"type": ["integer", "null"], "minimum": 1, "default": 1,
                    "description": "torch's thread count during the measurement (restored afterwards); null leaves "
                                   "it as it is."},
        "warmup_queries": {"type": "integer", "minimum": 0, "default": TIMING_DEFAULTS["warmup_queries"],
                           "description": "Queries of each workload run untimed after the first call."},
        "min_queries": {**_WHOLE, "default": TIMING_DEFAULTS["min_queries"],
                        "description": "Timed queries of the submission at least (MLPerf SingleStream: 1,024), "
                                       "unless max_duration_s or the deadline comes first."},
        "queries_per_round": {**_WHOLE, "default": TIMING_DEFAULTS["queries_per_round"],
                              "description": "Queries of each workload in one round of the interleaving."},
        "min_rounds": {**_WHOLE, "default": TIMING_DEFAULTS["min_rounds"],
                       "description": "Rounds at least, the interval's sample."},
        "min_duration_s": {**_SECONDS, "default": TIMING_DEFAULTS["min_duration_s"],
                           "description": "Seconds of timed rounds at least."},
        "max_duration_s": {**_SECONDS, "default": TIMING_DEFAULTS["max_duration_s"],
                           "description": "Seconds of timed rounds at most (the phase's time limit also bounds it)."},
        "throughput_queries": {**_WHOLE, "default": TIMING_DEFAULTS["throughput_queries"],
                               "description": "Queries run back to back for the offline throughput."},
        "throughput_max_s": {**_SECONDS, "default": TIMING_DEFAULTS["throughput_max_s"],
                             "description": "Seconds at most of the throughput batch."},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.95,
                       "description": "Level of the ratio's bootstrap interval."},
        "replicates": {"type": "integer", "minimum": 100, "default": 2000,
                       "description": "Bootstrap replicates of the ratio's interval."},
    },
}
_LATENCY = ("first", "p50", "p90", "p99")
#: the ends of the ratio's interval, also as measurements of their own: a leaderboard column holds one number
_ENDS = ("time.ratio.low", "time.ratio.high")
NAMES = ("time.ratio", *_ENDS, *(f"latency.{p}" for p in _LATENCY), "throughput")


class TimeMeter:
    """``aibench.time``: latency percentiles, throughput and the time ratio to the reference.

    Constructible without arguments (the prediction step re-creates it from its import path);
    its params come from the manifest entry (:data:`PARAMS`).
    """

    info = ComplexityInfo(
        id="aibench.time",
        description="Latency as MLPerf LoadGen's SingleStream takes it (first call apart, warm-up excluded, at least "
                    "1,024 queries or a time bound, p50/p90/p99 in ms), offline throughput, and the time ratio to the "
                    "organiser's reference workload measured interleaved in the same process, with a bootstrap "
                    "confidence interval: comparable across machines.",
        params_schema=PARAMS,
        summaries=(SummarySpec("time.ratio", "minimize", "median over rounds of the submission's median latency over "
                                                         "the reference's"),
                   SummarySpec("time.ratio.low", "minimize", "low end of the time ratio's confidence interval"),
                   SummarySpec("time.ratio.high", "minimize", "high end of the time ratio's confidence interval"),
                   SummarySpec("latency.*", "minimize", "latency of one query in ms: first, p50, p90, p99"),
                   SummarySpec("throughput", "maximize", "queries per second run back to back")),
        needs=("reference",),
        runs_in="prediction",
        accepts=("model", "callable"),
    )

    def measure(self, context: MeterContext, **params: Any) -> ComplexityResult:
        """Time ``context.submission`` (against ``context.reference`` when there is one) within
        ``context.deadline``.

        :raises InvalidParamsError: a parameter the schema does not know.
        :raises InvalidValueError: a value out of range (``max_duration_s`` below ``min_duration_s``).
        """
        unknown = sorted(set(params) - set(PARAMS["properties"]))
        if unknown:
            raise InvalidParamsError(f"aibench.time does not take {', '.join(unknown)}; it takes "
                                     f"{', '.join(PARAMS['properties'])}.")
        if context.submission is None:
            return _unavailable(context, "no workload: aibench.time measures a model or a callable "
                                         "(measure(), not measure_block())")
        if context.deadline is not None and time.monotonic() >= context.deadline:
            return _unavailable(context, "the time bound of the prediction step had passed before aibench.time started")
        timing = {k: params[k] for k in TIMING_DEFAULTS if k in params}
        if context.reference is None:
            stats = measure_latency(context.submission, **timing, deadline=context.deadline)
            return _result(context, stats, None, None)
        ratio = time_ratio(context.submission, context.reference, **timing, confidence=params.get("confidence", 0.95),
                           replicates=params.get("replicates", 2000), seed=context.seed, deadline=context.deadline)
        return _result(context, ratio.submission, ratio.reference, ratio)


def _measurement(context: MeterContext, name: str, value: float | None, unit: str, **fields: Any) -> Measurement:
    return Measurement(name=name, value=value, unit=unit, measured_by=context.measured_by, step="prediction",
                       tool=TIMING_TOOL, tool_version=TIMING_TOOL_VERSION, **fields)


def _unavailable(context: MeterContext, reason: str) -> ComplexityResult:
    units = {"time.ratio": "ratio", "time.ratio.low": "ratio", "time.ratio.high": "ratio", "throughput": "queries/s"}
    return ComplexityResult(tuple(_measurement(context, name, None, units.get(name, "ms"), status="unavailable",
                                               reason=reason) for name in NAMES))


def _short(stats: LatencyStats) -> str | None:
    """Why a timed phase counts as short (fewer queries than asked), or ``None``."""
    if stats.stopped_by == "min_queries":
        return None
    return (f"the timed phase stopped at {stats.stopped_by} after {stats.queries} queries of {stats.name}: fewer "
            "queries or rounds than asked, the percentiles and the interval rest on less")


def _result(context: MeterContext, sub: LatencyStats, ref: LatencyStats | None,
            ratio: TimeRatio | None) -> ComplexityResult:
    short = _short(sub)
    flag = {"flagged": short is not None, "reason": short or ""}
    common = {"queries": sub.queries, "warmup": sub.warmup, "threads": sub.threads, "device": sub.device,
              "stopped_by": sub.stopped_by, "duration_s": round(sub.duration_s, 4)}
    measurements = []
    if ratio is None:
        measurements += [_measurement(context, name, None, "ratio", status="unavailable", reason=NO_REFERENCE)
                         for name in ("time.ratio", *_ENDS)]
    else:
        measurements.append(_measurement(
            context, "time.ratio", ratio.ratio, "ratio", low=ratio.low, high=ratio.high, **flag,
            details={**common, "method": "median over rounds of each round's ratio of median latencies; percentile "
                                         "bootstrap over rounds", "confidence": ratio.confidence,
                     "replicates": ratio.replicates, "seed": ratio.seed, "rounds": ratio.rounds,
                     "queries_per_round": ratio.queries_per_round, "pooled_ratio": ratio.pooled_ratio,
                     "submission_p50_ms": sub.p50_ms, "reference_p50_ms": ratio.reference.p50_ms}))
        measurements += [_measurement(context, name, end, "ratio", **flag,
                                      details={"confidence": ratio.confidence, "of": "time.ratio"})
                         for name, end in zip(_ENDS, (ratio.low, ratio.high))]
    for p in _LATENCY:
        value = getattr(sub, f"{p}_ms")
        measurements.append(_measurement(context, f"latency.{p}", value, "ms",
                                         reference=None if ref is None else getattr(ref, f"{p}_ms"),
                                         **({} if p == "first" else flag),
                                         details=common if p != "first" else {"device": sub.device}))
    measurements.append(_measurement(
        context, "throughput", sub.throughput_qps, "queries/s",
        reference=None if ref is None else ref.throughput_qps,
        details={"queries": sub.throughput_queries, "threads": sub.threads, "device": sub.device}))
    rows = [[label, round(getattr(sub, key), 4), None if ref is None else round(getattr(ref, key), 4)]
            for label, key in (("first call (ms)", "first_ms"), ("p50 (ms)", "p50_ms"), ("p90 (ms)", "p90_ms"),
                               ("p99 (ms)", "p99_ms"), ("throughput (queries/s)", "throughput_qps"))]
    notes = [f"{sub.queries} timed queries after {sub.warmup} warm-up queries, torch threads "
             f"{sub.threads if sub.threads is not None else '(torch not loaded)'}, on {sub.device}."]
    if ratio is not None:
        notes.append(f"Time ratio {ratio.ratio:.3f} ({ratio.confidence:.0%} interval {ratio.low:.3f} to "
                     f"{ratio.high:.3f}) over {ratio.rounds} interleaved rounds of {ratio.queries_per_round} queries "
                     "of each workload.")
    else:
        notes.append(f"No time ratio: {NO_REFERENCE}.")
    table = {"title": "Latency", "columns": ["", "submission", "reference"], "rows": rows}
    return ComplexityResult(tuple(measurements), (table,), tuple(notes))
METERS = (TimeMeter,)
