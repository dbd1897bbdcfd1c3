"""Latency as MLPerf LoadGen's SingleStream scenario takes it, and the time ratio of a submission
to the organiser's reference measured in the same process: the library under the built-in meter
``aibench.time``.

::

    measure_latency(workload, *, threads=1, warmup_queries=100, min_queries=1024, ...) -> LatencyStats
    time_ratio(submission, reference, *, threads=1, ..., confidence=0.95, seed=0) -> TimeRatio

How a measurement is taken (both functions):

1. **Threads fixed.** When torch is loaded, ``torch.set_num_threads(threads)`` for the measurement
   (default 1, as ``torch.utils.benchmark.Timer``), the previous count restored afterwards; the
   garbage collector is off while queries are timed (as :mod:`timeit`), restored afterwards.
2. **The first call** of each workload is timed apart (``first_ms``): it pays for lazy
   initialisation, allocation and caches, which the steady state does not.
3. **Warm-up** queries (``warmup_queries``) run untimed; a slow workload's warm-up stops after
   ``max(1 s, min_duration_s)`` (or at ``deadline``), so that it cannot eat the time bound.
4. **Timed queries**, one by one, each between two ``time.perf_counter_ns()`` reads (CUDA
   synchronised before the second read when the workload is on a GPU), in blocks of
   ``queries_per_round``, until there are at least ``min_queries`` of them *and*
   ``min_duration_s`` has passed, or ``max_duration_s`` has, or the next block would run past
   ``deadline`` (``time.monotonic()``); ``stopped_by`` says which. Queries are cycled when a
   workload has fewer than needed.
5. **Percentiles** p50, p90, p99 of the timed queries, by nearest rank (the ``ceil(p·n)``-th
   smallest: a latency some query actually took, as LoadGen reports), in milliseconds.
6. **Offline throughput**: ``throughput_queries`` queries run back to back (at most
   ``throughput_max_s``), queries per second over the batch.

:func:`time_ratio` runs the two workloads *interleaved* in rounds after the warm-up
(``R S | S R | R S ...``: each round a block of each, the order alternated so that a drift
within a round, a clock ramping up or a neighbour's load, counts against each one as often).
Each round gives a ratio of medians, ``median(submission block) / median(reference block)``:
two blocks a few milliseconds apart, run under the same conditions. The reported
``ratio`` is the median of the rounds' ratios, and its confidence interval the percentile
interval of that median over the rounds resampled with replacement
(:func:`aibench_plugins.stats.case_weights` gives the draws of ``seed``). Pooling every query
instead (``median(all submission) / median(all reference)``, kept as ``pooled_ratio``) estimates
the same quantity when the machine is steady; on a shared machine whose load comes and goes the
share of slowed queries differs between the two sides and the pooled ratio moves by several per
cent from one run to the next, where the median of the rounds' ratios moves by well under one
(bench/bench_complexity_time.py measures both).
"""

from __future__ import annotations

import gc
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..components.complexity import Workload
from ..core.errors import InvalidValueError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["LatencyStats", "TimeRatio", "TIMING_TOOL", "TIMING_TOOL_VERSION", "measure_latency", "time_ratio", "workload_device"]

#: what takes the measurements: the clock, and the Python that provides it
TIMING_TOOL = "time.perf_counter_ns"
TIMING_TOOL_VERSION = f"Python {platform.python_version()}"

#: parameters shared by both functions, with their defaults
TIMING_DEFAULTS: dict[str, Any] = {
    "threads": 1, "warmup_queries": 100, "min_queries": 1024, "queries_per_round": 16, "min_rounds": 64,
    "min_duration_s": 1.0, "max_duration_s": 30.0, "throughput_queries": 1024, "throughput_max_s": 2.0,
}


@dataclass(frozen=True)
class LatencyStats:
    """The latency of one workload.

    :param name: the workload's name (``submission``, ``reference``).
    :param first_ms: the first call, timed apart (not among the percentiles).
    :param p50_ms: ``p90_ms``, ``p99_ms``: nearest-rank percentiles of the timed queries;
        ``mean_ms`` their mean; ``min_ms`` the fastest.
    :param queries: how many queries were timed (warm-up and first call excluded).
    :param warmup: how many warm-up queries ran untimed.
    :param duration_s: wall time of the timed phase (for :func:`time_ratio`: of both workloads,
        interleaved).
    :param throughput_qps: offline throughput, queries per second over ``throughput_queries``
        queries run back to back.
    :param threads: torch's thread count during the measurement (``None``: torch not loaded).
    :param device: ``cpu`` or ``cuda`` (CUDA synchronised after each query).
    :param stopped_by: what ended the timed phase: ``min_queries`` (``min_queries`` and
        ``min_duration_s`` both reached), ``max_duration_s`` or ``deadline``.
    """

    name: str
    first_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    queries: int
    warmup: int
    duration_s: float
    throughput_qps: float
    throughput_queries: int
    threads: int | None
    device: str
    stopped_by: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimeRatio:
    """The submission's median per-query latency over the reference's, measured interleaved.

    :param ratio: the median over rounds of each round's ``median(submission block) /
        median(reference block)`` (the lower median when there is an even number of rounds).
    :param low: ``high``: the bootstrap percentile interval over rounds at ``confidence``, from
        ``replicates`` replicates.
    :param rounds: rounds run, each a block of ``queries_per_round`` queries of each workload.
    :param pooled_ratio: ``median(submission) / median(reference)`` over every timed query
        pooled: the same quantity, less robust to a load that comes and goes during the run
        (the share of slowed queries differs between the two sides).
    :param round_ratios: each round's ratio of medians (how the ratio drifted during the run).
    :param submission: ``reference``: each workload's latency from the same run.
    :param stopped_by: as :attr:`LatencyStats.stopped_by`.
    """

    ratio: float
    low: float
    high: float
    confidence: float
    replicates: int
    rounds: int
    queries_per_round: int
    submission: LatencyStats
    reference: LatencyStats
    stopped_by: str
    seed: int
    pooled_ratio: float
    round_ratios: tuple[float, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "submission": self.submission.to_json(), "reference": self.reference.to_json(),
                "round_ratios": list(self.round_ratios)}


def workload_device(workload: Workload) -> str:
    """``cuda`` when the workload's model has a parameter or buffer on a CUDA device, or its
    example input is a CUDA tensor; else ``cpu``. Never imports torch: a workload on a GPU has
    loaded it already."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "cpu"
    model = workload.model
    if isinstance(model, torch.nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return "cuda" if tensor.device.type == "cuda" else "cpu"
    example = workload.example_input
    if isinstance(example, torch.Tensor) and example.device.type == "cuda":
        return "cuda"
    return "cpu"


class _Runner:
    """Runs one workload's queries in order, cycling them, timing each."""

    def __init__(self, workload: Workload) -> None:
        if len(workload.queries) == 0:
            raise InvalidValueError(f"the {workload.name} workload has no queries: give at least one query to time.")
        self.name = workload.name
        self.predict = workload.predict
        self.queries = workload.queries
        self.next = 0
        self.device = workload_device(workload)
        self.sync: Callable[[], Any] | None = None
        if self.device == "cuda":
            self.sync = sys.modules["torch"].cuda.synchronize

    def _query(self) -> Any:
        query = self.queries[self.next % len(self.queries)]
        self.next += 1
        return query

    def untimed(self, count: int, max_s: float, deadline: float | None) -> int:
        """Run up to ``count`` queries untimed, stopping once ``max_s`` has passed or at
        ``deadline`` (``time.monotonic()``): how many ran."""
        started = time.monotonic()
        done = 0
        while done < count:
            self.predict(self._query())
            done += 1
            now = time.monotonic()
            if now - started > max_s or deadline is not None and now > deadline:
                break
        if self.sync is not None:
            self.sync()
        return done

    def block(self, count: int, out: list[int]) -> None:
        """Time ``count`` queries one by one, appending nanoseconds to ``out``."""
        predict, sync, clock, append = self.predict, self.sync, time.perf_counter_ns, out.append
        for _ in range(count):
            query = self._query()
            started = clock()
            predict(query)
            if sync is not None:
                sync()
            append(clock() - started)

    def batch(self, count: int, max_s: float) -> tuple[int, int]:
        """Run up to ``count`` queries back to back (stopping once ``max_s`` has passed): how
        many ran, and the nanoseconds they took together."""
        predict, clock = self.predict, time.perf_counter_ns
        limit = int(max_s * 1e9)
        done = 0
        started = clock()
        while done < count:
            predict(self._query())
            done += 1
            if clock() - started > limit:
                break
        if self.sync is not None:
            self.sync()
        return done, clock() - started


@contextmanager
def _steady(threads: int | None) -> Iterator[int | None]:
    """torch's thread count fixed to ``threads`` (when torch is loaded) and the garbage
    collector off; both restored on exit. Yields the thread count in force (``None``: no torch)."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    collecting = gc.isenabled()
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)
    gc.collect()
    gc.disable()
    try:
        yield torch.get_num_threads() if torch is not None else None
    finally:
        if collecting:
            gc.enable()
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def _options(given: dict[str, Any]) -> dict[str, Any]:
    options = dict(TIMING_DEFAULTS)
    options.update({k: v for k, v in given.items() if v is not None or k == "threads"})
    whole = {"warmup_queries": 0, "min_queries": 1, "queries_per_round": 1, "min_rounds": 1, "throughput_queries": 1}
    for name, least in whole.items():
        value = options[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise InvalidValueError(f"{name} must be a whole number >= {least} (got {value!r}).")
    threads = options["threads"]
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise InvalidValueError(f"threads must be a whole number >= 1, or None to leave torch's (got {threads!r}).")
    for name in ("min_duration_s", "max_duration_s", "throughput_max_s"):
        value = options[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise InvalidValueError(f"{name} must be a number of seconds >= 0 (got {value!r}).")
    if options["max_duration_s"] < options["min_duration_s"]:
        raise InvalidValueError(f"max_duration_s ({options['max_duration_s']}) is below min_duration_s "
                                f"({options['min_duration_s']}).")
    return options


def _nearest_rank(sorted_ns: Sequence[int], p: float) -> float:
    index = max(0, math.ceil(p * len(sorted_ns)) - 1)
    return sorted_ns[index] / 1e6


def _stats(name: str, first_ns: int, times_ns: list[int], warmup: int, duration_s: float, throughput: tuple[int, int],
           threads: int | None, device: str, stopped_by: str) -> LatencyStats:
    ordered = sorted(times_ns)
    done, batch_ns = throughput
    return LatencyStats(
        name=name, first_ms=first_ns / 1e6, p50_ms=_nearest_rank(ordered, 0.50), p90_ms=_nearest_rank(ordered, 0.90),
        p99_ms=_nearest_rank(ordered, 0.99), mean_ms=sum(ordered) / len(ordered) / 1e6, min_ms=ordered[0] / 1e6,
        queries=len(ordered), warmup=warmup, duration_s=duration_s,
        throughput_qps=done / (batch_ns / 1e9) if batch_ns > 0 else math.inf, throughput_queries=done,
        threads=threads, device=device, stopped_by=stopped_by)


class _Bound:
    """When to stop the timed phase."""

    def __init__(self, options: dict[str, Any], deadline: float | None, reserve_s: float) -> None:
        self.min_queries = options["min_queries"]
        self.min_rounds = options["min_rounds"]
        self.min_s = options["min_duration_s"]
        self.max_s = options["max_duration_s"]
        self.deadline = deadline
        self.reserve_s = reserve_s
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def stop(self, rounds: int, queries: int) -> str | None:
        """``None`` to run one more round, else why not."""
        elapsed = self.elapsed()
        if queries >= self.min_queries and rounds >= self.min_rounds and elapsed >= self.min_s:
            return "min_queries"
        if elapsed >= self.max_s:
            return "max_duration_s"
        if self.deadline is not None and rounds:
            per_round = elapsed / rounds
            if time.monotonic() + per_round + self.reserve_s > self.deadline:
                return "deadline"
        return None


def _warmup_s(options: dict[str, Any]) -> float:
    """Seconds at most of one workload's warm-up."""
    return max(1.0, float(options["min_duration_s"]))


def _reserve(options: dict[str, Any], workloads: int) -> float:
    """Seconds kept back from the deadline for what follows the timed phase."""
    return workloads * float(options["throughput_max_s"]) + 0.5


def measure_latency(workload: Workload, *, threads: int | None = 1, warmup_queries: int | None = None,
                    min_queries: int | None = None, queries_per_round: int | None = None,
                    min_rounds: int | None = None, min_duration_s: float | None = None,
                    max_duration_s: float | None = None,
                    throughput_queries: int | None = None, throughput_max_s: float | None = None,
                    deadline: float | None = None) -> LatencyStats:
    """The latency of one workload alone (see the module docstring for how it is taken;
    ``None`` takes the default of :data:`TIMING_DEFAULTS`; ``min_rounds``, blocks of
    ``queries_per_round`` here, defaults to 1). ``deadline`` is a ``time.monotonic()`` by
    which the timed phase stops, keeping time back for the throughput batch.

    :raises InvalidValueError: a parameter out of range, or a workload without queries.
    """
    options = _options({"threads": threads, "warmup_queries": warmup_queries, "min_queries": min_queries,
                        "queries_per_round": queries_per_round, "min_duration_s": min_duration_s,
                        "max_duration_s": max_duration_s, "throughput_queries": throughput_queries,
                        "throughput_max_s": throughput_max_s,
                        "min_rounds": 1 if min_rounds is None else min_rounds})
    runner = _Runner(workload)
    with _steady(options["threads"]) as in_force:
        first: list[int] = []
        runner.block(1, first)
        warm = runner.untimed(options["warmup_queries"], _warmup_s(options), deadline)
        times: list[int] = []
        bound = _Bound(options, deadline, _reserve(options, 1))
        rounds = 0
        while (why := bound.stop(rounds, len(times))) is None:
            runner.block(options["queries_per_round"], times)
            rounds += 1
        duration = bound.elapsed()
        throughput = runner.batch(options["throughput_queries"], options["throughput_max_s"])
    return _stats(workload.name, first[0], times, warm, duration, throughput, in_force, runner.device, why)


def time_ratio(submission: Workload, reference: Workload, *, threads: int | None = 1,
               warmup_queries: int | None = None, min_queries: int | None = None,
               queries_per_round: int | None = None, min_rounds: int | None = None,
               min_duration_s: float | None = None, max_duration_s: float | None = None,
               throughput_queries: int | None = None, throughput_max_s: float | None = None,
               confidence: float = 0.95, replicates: int = 2000, seed: int = 0,
               deadline: float | None = None) -> TimeRatio:
    """The submission's median per-query latency over the reference's, the two run interleaved
    in the same process (see the module docstring), with a bootstrap interval over rounds.

    ``min_queries`` counts each workload's timed queries; ``min_rounds`` (default 64) is the
    fewest rounds the interval rests on unless a duration or the deadline stops it first.

    :raises InvalidValueError: a parameter out of range, or a workload without queries.
    """
    if not 0.0 < confidence < 1.0:
        raise InvalidValueError(f"confidence must lie strictly between 0 and 1 (got {confidence!r}).")
    if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 100:
        raise InvalidValueError(f"replicates must be a whole number >= 100 (got {replicates!r}).")
    options = _options({"threads": threads, "warmup_queries": warmup_queries, "min_queries": min_queries,
                        "queries_per_round": queries_per_round, "min_rounds": min_rounds,
                        "min_duration_s": min_duration_s, "max_duration_s": max_duration_s,
                        "throughput_queries": throughput_queries, "throughput_max_s": throughput_max_s})
    block = options["queries_per_round"]
    ref, sub = _Runner(reference), _Runner(submission)
    with _steady(options["threads"]) as in_force:
        first_ref: list[int] = []
        first_sub: list[int] = []
        ref.block(1, first_ref)
        sub.block(1, first_sub)
        ref_warm = ref.untimed(options["warmup_queries"], _warmup_s(options), deadline)
        sub_warm = sub.untimed(options["warmup_queries"], _warmup_s(options), deadline)
        ref_times: list[int] = []
        sub_times: list[int] = []
        bound = _Bound(options, deadline, _reserve(options, 2))
        rounds = 0
        while (why := bound.stop(rounds, len(sub_times))) is None:
            order = (ref, sub) if rounds % 2 == 0 else (sub, ref)
            for runner in order:
                runner.block(block, ref_times if runner is ref else sub_times)
            rounds += 1
        duration = bound.elapsed()
        ref_batch = ref.batch(options["throughput_queries"], options["throughput_max_s"])
        sub_batch = sub.batch(options["throughput_queries"], options["throughput_max_s"])
    ratio, low, high, pooled, per_round = _bootstrap(sub_times, ref_times, rounds, block, confidence, replicates,
                                                     seed)
    return TimeRatio(
        ratio=ratio, low=low, high=high, confidence=confidence, replicates=replicates, rounds=rounds,
        queries_per_round=block,
        submission=_stats(submission.name, first_sub[0], sub_times, sub_warm, duration, sub_batch, in_force, sub.device,
                          why),
        reference=_stats(reference.name, first_ref[0], ref_times, ref_warm, duration, ref_batch, in_force, ref.device,
                         why),
        stopped_by=why, seed=seed, pooled_ratio=pooled, round_ratios=per_round)


def _weighted_lower_median(values: NDArray[Any], weights: NDArray[Any]) -> NDArray[Any]:
    """Per row of ``weights`` (how often each of the sorted ``values`` was drawn), the lower
    median of the values so drawn."""
    import numpy as np

    cumulative = np.cumsum(weights, axis=1)
    chosen: NDArray[Any] = values[np.argmax(cumulative >= cumulative[:, -1:] / 2.0, axis=1)]
    return chosen


def _bootstrap(sub_ns: list[int], ref_ns: list[int], rounds: int, block: int, confidence: float, replicates: int,
               seed: int) -> tuple[float, float, float, float, tuple[float, ...]]:
    """The ratio (the lower median over rounds of each round's ratio of medians), its percentile
    interval over rounds resampled by :func:`~aibench_plugins.stats.case_weights`, the pooled
    ratio of medians, and each round's ratio."""
    import numpy as np

    from ..stats import case_weights, percentile_interval

    sub = np.asarray(sub_ns, dtype=np.float64).reshape(rounds, block)
    ref = np.asarray(ref_ns, dtype=np.float64).reshape(rounds, block)
    per_round = np.median(sub, axis=1) / np.median(ref, axis=1)
    order = np.argsort(per_round, kind="stable")
    values = per_round[order]
    ratio = float(_weighted_lower_median(values, np.ones((1, rounds), dtype=np.int64))[0])
    draws = [_weighted_lower_median(values, np.asarray(weights)[:, order])
             for weights in case_weights(rounds, replicates, seed, chunk=max(1, 2_000_000 // rounds))]
    interval = percentile_interval(np.concatenate(draws), confidence=confidence, estimate=ratio)
    pooled = float(np.median(sub) / np.median(ref))
    return ratio, interval.low, interval.high, pooled, tuple(float(r) for r in per_round)
