"""The meter ``aibench.prediction_step``: the prediction step's wall time and peak memory from the
host's measurements, the most trusted source first, unavailable without a prediction step."""

from __future__ import annotations

from aibench_plugins import Hardware, Measurement, MeterContext
from aibench_plugins.default_plugins.complexity.step import NO_STEP, PredictionStep


def _measure(*steps: Measurement) -> dict[str, Measurement]:
    context = MeterContext(None, None, Hardware(), measured_by="scoring", step_measurements=steps)
    return {m.name: m for m in PredictionStep().measure(context).measurements}


def test_the_executor_is_preferred_to_the_worker_and_to_the_container() -> None:
    found = _measure(Measurement("ingestion wall time", 9.0, "s", "ingestion", "prediction"),
                     Measurement("participant program wall time", 5.0, "s", "worker", "prediction"),
                     Measurement("ingestion program wall time", 4.0, "s", "executor", "prediction"),
                     Measurement("ingestion program peak memory", 300.0, "MiB", "executor", "prediction"),
                     Measurement("scoring program wall time", 1.0, "s", "executor", "scoring"))
    assert (found["wall_time"].value, found["wall_time"].measured_by) == (4.0, "executor")
    assert found["wall_time"].details["source"] == "ingestion program wall time"
    assert (found["peak_memory"].value, found["peak_memory"].unit) == (300.0, "MiB")


def test_a_worker_measurement_is_used_and_says_so() -> None:
    found = _measure(Measurement("participant program wall time", 5.0, "s", "worker", "prediction"))
    assert found["wall_time"].measured_by == "worker" and "worker" in found["wall_time"].reason
    assert found["peak_memory"].status == "unavailable" and found["peak_memory"].value is None


def test_without_a_prediction_step_both_are_unavailable_with_the_reason() -> None:
    found = _measure(Measurement("scoring program wall time", 1.0, "s", "executor", "scoring"))
    assert {m.status for m in found.values()} == {"unavailable"} and found["wall_time"].reason == NO_STEP
