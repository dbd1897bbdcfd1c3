"""The gateway's measurements: names, units, who measured them, the first request left out of the
percentiles, a participant-hosted endpoint's timings flagged as not comparable, and nothing
invented when nothing was answered."""

from __future__ import annotations

import pytest
from _servers import Reply, Request, free_port, oip_model, serve

from aibench_plugins.components.complexity import TRUST
from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.measurements import NOT_COMPARABLE, measurements, percentile
from aibench_plugins.submissions.types import Deadlines, Endpoint, GatewayOutcome, GatewaySettings, InputTable, \
    TableColumns

NAMES = ["latency.p50", "latency.p90", "latency.p99", "latency.first", "throughput", "requests", "errors", "retries",
         "timeouts", "wall_time"]
SETTINGS = GatewaySettings(inputs=TableColumns("in.csv"), predictions=TableColumns("out.csv", columns=("y",)),
                           batch_size=2, deadlines=Deadlines(3, 5, 5, 20), backoff_s=0.01)
INPUTS = InputTable(ids=tuple(map(str, range(7))), columns=("a",), rows=[[float(i)] for i in range(7)])


def outcome(latencies: list[float], *, comparable: bool = True, rows: int = 0) -> GatewayOutcome:
    return GatewayOutcome(kind="serving_image", protocol="open-inference-v2", url="http://h", comparable=comparable,
                          rows=[(0,)] * rows, latencies_ms=latencies, requests=len(latencies), wall_s=1.5)


def test_percentile_interpolates_like_numpy() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert [percentile(values, q) for q in (0, 50, 90, 100)] == [1.0, 3.0, 4.6, 5.0]
    assert percentile([7.0], 99) == 7.0


def test_from_a_real_run() -> None:
    posts = {"n": 0}

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] == 2:
                return None  # one broken connection: retried
        return oip_model()(request)

    with serve(route) as server:
        run = predict(Endpoint(url=server.url, model="m", hosted_by="executor"), INPUTS, SETTINGS,
                      kind="serving_image")
    assert run.ok, run.failure
    found = {m.name: m for m in measurements(run)}
    assert list(found) == NAMES
    for m in found.values():
        assert (m.measured_by, m.step, m.tool, m.status, m.flagged) == ("gateway", "prediction", "httpx", "measured",
                                                                        False)
        assert m.tool_version and m.details["comparable"] is True
        assert m.to_json()["trust"] == TRUST["gateway"] and m.to_json()["trust"].startswith("host")
    assert {m.unit for m in found.values()} == {"ms", "rows/s", "count", "s"}
    assert found["latency.first"].value == run.latencies_ms[0]
    assert found["latency.p50"].value == percentile(run.latencies_ms[1:], 50)
    assert found["latency.p50"].details["requests"] == 3 and "left out" in found["latency.p50"].details["first_request"]
    assert found["throughput"].value == pytest.approx(7 / (sum(run.latencies_ms) / 1000))
    counts = {name: found[name].value for name in ("requests", "errors", "retries", "timeouts")}
    assert counts == {"requests": 5.0, "errors": 1.0, "retries": 1.0, "timeouts": 0.0}
    assert found["wall_time"].value == run.wall_s


def test_one_request_is_its_own_percentile() -> None:
    found = {m.name: m for m in measurements(outcome([12.0], rows=3))}
    assert found["latency.p99"].value == 12.0 == found["latency.first"].value
    assert "only answered request" in found["latency.p99"].details["first_request"]
    assert found["throughput"].value == pytest.approx(250.0)


def test_a_participant_hosted_endpoint_is_not_comparable() -> None:
    found = measurements(outcome([10.0, 20.0], comparable=False, rows=2))
    assert all(m.flagged and m.reason == NOT_COMPARABLE and m.details["comparable"] is False for m in found)


def test_nothing_answered_is_unavailable_not_zero() -> None:
    run = predict(Endpoint(url=f"http://127.0.0.1:{free_port()}", model="m"), INPUTS,
                  GatewaySettings(inputs=SETTINGS.inputs, predictions=SETTINGS.predictions,
                                  deadlines=Deadlines(0.2, 1, 1, 5)), kind="endpoint")
    assert run.failure is not None
    found = {m.name: m for m in measurements(run)}
    for name in ("latency.p50", "latency.p90", "latency.p99", "latency.first", "throughput"):
        m = found[name]
        assert (m.value, m.status) == (None, "unavailable") and "nothing was answered" in m.reason
        assert m.flagged and NOT_COMPARABLE in m.reason
    assert found["requests"].value == 0 and found["wall_time"].status == "measured"
