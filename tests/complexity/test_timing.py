"""The latency library (aibench_plugins.complexity.timing): percentiles by nearest rank, the first
call apart, warm-up excluded, the time bounds, threads fixed and restored, the interleaving order,
and the ratio with its bootstrap interval. Durations come from a fake clock that each query
advances, so every number here is exact; nothing depends on this machine's speed."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aibench_plugins import InvalidValueError, Workload
from aibench_plugins.complexity import measure_latency, time_ratio, workload_device


class FakeClock:
    """``time.perf_counter_ns`` replaced: a query of duration ``d`` (ns) advances it by ``d``."""

    def __init__(self) -> None:
        self.now = 0
        self.calls: list[str] = []

    def __call__(self) -> int:
        return self.now

    def workload(self, name: str, durations: list[int], first: int | None = None) -> Workload:
        state = {"calls": 0}

        def predict(query: int) -> None:
            state["calls"] += 1
            self.calls.append(name)
            self.now += first if first is not None and state["calls"] == 1 else query

        return Workload(name, predict, durations)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter_ns", fake)
    yield fake


FAST: dict[str, Any] = {"min_duration_s": 0.0, "throughput_max_s": 10.0}


def test_percentiles_by_nearest_rank_first_call_apart_warmup_excluded(clock: FakeClock) -> None:
    durations = [(i + 1) * 1_000_000 for i in range(100)]  # 1 ms ... 100 ms, cycled in order
    workload = clock.workload("submission", durations, first=500_000_000)
    stats = measure_latency(workload, warmup_queries=100, min_queries=100, queries_per_round=10,
                            throughput_queries=100, **FAST)
    assert stats.first_ms == 500.0
    assert stats.warmup == 100 and stats.queries == 100
    # the first call took query 0's slot, so warm-up ran queries 1..100 and the timed ones 101..200 (cycled):
    # every duration once
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == (50.0, 90.0, 99.0)
    assert stats.min_ms == 1.0 and stats.mean_ms == pytest.approx(50.5)
    assert stats.throughput_queries == 100
    assert stats.throughput_qps == pytest.approx(100 / (sum(durations) / 1e9))
    assert stats.stopped_by == "min_queries" and stats.device == "cpu"
    assert clock.calls.count("submission") == 1 + 100 + 100 + 100


def test_min_queries_rounds_up_to_whole_blocks(clock: FakeClock) -> None:
    stats = measure_latency(clock.workload("submission", [1000]), warmup_queries=0, min_queries=33,
                            queries_per_round=32, throughput_queries=1, **FAST)
    assert stats.queries == 64


def test_max_duration_and_deadline_stop_the_timed_phase() -> None:
    workload = Workload("submission", lambda q: None, [0])
    stats = measure_latency(workload, warmup_queries=0, min_queries=10**12, min_duration_s=0.02, max_duration_s=0.02,
                            throughput_queries=1)
    assert stats.stopped_by == "max_duration_s" and stats.queries >= 16
    late = measure_latency(workload, warmup_queries=0, min_queries=10**12, min_duration_s=5, max_duration_s=5,
                           throughput_queries=1, deadline=time.monotonic() - 1)
    assert late.stopped_by == "deadline" and late.queries == 16  # one block: a deadline never leaves it empty


def test_threads_fixed_for_the_measurement_then_restored_and_gc_off() -> None:
    import torch
    seen: list[tuple[int, bool]] = []
    workload = Workload("submission", lambda q: seen.append((torch.get_num_threads(), gc.isenabled())), [0])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        stats = measure_latency(workload, threads=1, warmup_queries=0, min_queries=1, queries_per_round=1,
                                throughput_queries=1, **FAST)
        assert torch.get_num_threads() == 2 and gc.isenabled()
    finally:
        torch.set_num_threads(before)
    assert stats.threads == 1 and set(seen) == {(1, False)}


def test_rounds_interleave_with_the_order_alternated(clock: FakeClock) -> None:
    sub, ref = clock.workload("S", [2000]), clock.workload("R", [1000])
    result = time_ratio(sub, ref, warmup_queries=2, min_queries=6, queries_per_round=2, min_rounds=4,
                        throughput_queries=1, replicates=100, **FAST)
    assert result.rounds == 4
    # first calls, warm-up (R then S), then R S | S R | R S | S R in blocks of 2, then the throughput batches
    expected = ["R", "S"] + ["R"] * 2 + ["S"] * 2 + list("RRSS" "SSRR" "RRSS" "SSRR") + ["R", "S"]
    assert clock.calls == expected
    assert result.ratio == 2.0 and (result.low, result.high) == (2.0, 2.0) and result.pooled_ratio == 2.0
    assert result.round_ratios == (2.0,) * 4


def test_ratio_is_the_median_of_round_ratios_and_its_interval_is_seeded(clock: FakeClock) -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    sub = clock.workload("S", [int(v) for v in rng.integers(1500, 2500, 97)])
    ref = clock.workload("R", [int(v) for v in rng.integers(900, 1100, 89)])
    options: dict[str, Any] = dict(warmup_queries=0, min_queries=400, queries_per_round=8, throughput_queries=1, replicates=500,
                   **FAST)
    one = time_ratio(sub, ref, seed=3, **options)
    rounds = sorted(one.round_ratios)
    assert one.ratio == rounds[(len(rounds) - 1) // 2]  # the lower median
    assert one.low <= one.ratio <= one.high and 1.5 < one.low and one.high < 2.5
    assert one.low < one.high and one.replicates == 500 and one.seed == 3
    assert one.pooled_ratio == pytest.approx(2.0, rel=0.1)


def test_bootstrap_depends_only_on_the_seed(clock: FakeClock) -> None:
    durations = [1000 + (i * 37) % 400 for i in range(64)]
    options: dict[str, Any] = dict(warmup_queries=0, min_queries=320, queries_per_round=16, throughput_queries=1,
                                   replicates=300, **FAST)

    def run(seed: int) -> tuple[float, float]:
        result = time_ratio(clock.workload("S", durations), clock.workload("R", durations[::-1]), seed=seed,
                            **options)
        return result.low, result.high

    assert run(1) == run(1)


@pytest.mark.parametrize(("options", "words"), [
    ({"min_queries": 0}, "min_queries must be a whole number >= 1"),
    ({"threads": 0}, "threads must be a whole number >= 1"),
    ({"max_duration_s": -1.0}, "max_duration_s must be a number of seconds >= 0"),
    ({"min_duration_s": 5.0, "max_duration_s": 1.0}, "max_duration_s (1.0) is below min_duration_s (5.0)"),
])
def test_values_out_of_range_are_refused(options: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidValueError) as error:
        measure_latency(Workload("submission", lambda q: None, [0]), **options)
    assert words in str(error.value)


def test_ratio_options_and_empty_workloads_are_refused() -> None:
    workload = Workload("submission", lambda q: None, [0])
    with pytest.raises(InvalidValueError, match="confidence must lie strictly between 0 and 1"):
        time_ratio(workload, workload, confidence=1.0)
    with pytest.raises(InvalidValueError, match="replicates must be a whole number >= 100"):
        time_ratio(workload, workload, replicates=10)
    with pytest.raises(InvalidValueError, match="the reference workload has no queries"):
        time_ratio(workload, Workload("reference", lambda q: None, []))


def test_a_cpu_model_is_on_the_cpu() -> None:
    import torch
    model = torch.nn.Linear(2, 2)
    assert workload_device(Workload("submission", model, [torch.zeros(1, 2)], model)) == "cpu"
    assert workload_device(Workload("submission", lambda q: q, [0])) == "cpu"


def test_a_slow_warm_up_stops_at_its_time_bound() -> None:
    stats = measure_latency(Workload("submission", lambda q: time.sleep(0.002), [0]), warmup_queries=10**9,
                            min_queries=1, queries_per_round=1, min_duration_s=0.0, throughput_queries=1)
    assert 1 <= stats.warmup < 10**9  # stopped after about a second, not a billion queries
