"""The meter ``aibench.endpoint``: the gateway's host-side measurements of an API-integrated
submission, flagged as not comparable for a participant-hosted endpoint, unavailable otherwise."""

from __future__ import annotations

from aibench_plugins import Hardware, Measurement, MeterContext
from aibench_plugins.default_plugins.complexity.endpoint import GIVEN, NOT_API, EndpointTimings

HOSTED = "a participant-hosted endpoint: its hardware is unknown"


def _measure(*taken: Measurement) -> dict[str, Measurement]:
    context = MeterContext(None, None, Hardware(), measured_by="scoring", step_measurements=taken)
    return {m.name: m for m in EndpointTimings().measure(context).measurements}


def test_the_gateways_measurements_are_the_meters_and_nothing_else_is() -> None:
    found = _measure(Measurement("latency.p50", 2.5, "ms", "gateway", "prediction"),
                     Measurement("throughput", 400.0, "rows/s", "gateway", "prediction"),
                     Measurement("latency.p90", 99.0, "ms", "ingestion", "prediction"))  # forgeable: not taken
    assert (found["latency.p50"].value, found["latency.p50"].measured_by) == (2.5, "gateway")
    assert found["throughput"].value == 400.0
    assert found["latency.p90"].status == "unavailable" and "did not measure latency.p90" in found["latency.p90"].reason
    assert list(found) == [name for name, *_ in GIVEN]
    assert found["latency.p50"].to_json()["trust"].startswith("host:")


def test_a_participant_hosted_endpoint_is_flagged_and_the_note_says_why() -> None:
    context = MeterContext(None, None, Hardware(), measured_by="scoring", step_measurements=(
        Measurement("latency.p50", 2.5, "ms", "gateway", "prediction", flagged=True, reason=HOSTED,
                    details={"comparable": False}),))
    result = EndpointTimings().measure(context)
    assert result.measurement("latency.p50").flagged  # type: ignore[union-attr]
    assert result.notes == (HOSTED,)


def test_a_submission_that_is_not_api_integrated_has_every_measurement_unavailable() -> None:
    found = _measure(Measurement("program wall time", 1.0, "s", "executor", "prediction"))
    assert {m.status for m in found.values()} == {"unavailable"}
    assert {m.reason for m in found.values()} == {NOT_API}
