"""The gateway against a real Open Inference Protocol server: Seldon MLServer with its scikit-learn
runtime serving an iris classifier on 127.0.0.1 (the session fixture ``mlserver_iris``)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mlserver_fixture import MLServer

from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.measurements import measurements
from aibench_plugins.submissions.types import Deadlines, Endpoint, GatewayOutcome, GatewaySettings, InputTable, \
    TableColumns

SETTINGS = GatewaySettings(inputs=TableColumns("inputs.csv"),
                           predictions=TableColumns("predictions.csv", columns=("label",)),
                           batch_size=64, deadlines=Deadlines(ready_s=30.0, first_request_s=30.0, request_s=10.0,
                                                              total_s=120.0))
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LATENCIES = ("latency.p50", "latency.p90", "latency.p99", "latency.first")
COUNTS = ("requests", "errors", "retries", "timeouts")


def iris(server: MLServer) -> InputTable:
    return InputTable(ids=tuple(f"iris-{i:03d}" for i in range(len(server.features))), columns=COLUMNS,
                      rows=server.features)


def served(server: MLServer, settings: GatewaySettings = SETTINGS, **endpoint: object) -> GatewayOutcome:
    return predict(Endpoint(url=server.url, model=server.model, **endpoint), iris(server), settings,  # type: ignore[arg-type]
                   kind="endpoint")


@pytest.mark.parametrize("batch_size", [pytest.param(1, id="batch-1"), pytest.param(7, id="batch-7-uneven"),
                                        pytest.param(64, id="batch-64"), pytest.param(150, id="one-batch")])
def test_predictions_are_the_models_own(mlserver_iris: MLServer, batch_size: int) -> None:
    outcome = served(mlserver_iris, replace(SETTINGS, batch_size=max(batch_size, 64)), batch_size=batch_size)
    assert outcome.ok, outcome.failure
    expected = [int(v) for v in mlserver_iris.estimator.predict(mlserver_iris.features)]
    assert [tuple(row) for row in outcome.rows] == [(v,) for v in expected]
    batches = -(-len(expected) // batch_size)
    assert outcome.batches == batches == len(outcome.latencies_ms) == outcome.requests
    assert (outcome.errors, outcome.retries, outcome.timeouts) == (0, 0, 0)
    assert outcome.ready_s is not None


def test_a_model_version(mlserver_iris: MLServer) -> None:
    outcome = served(mlserver_iris, version=mlserver_iris.version)
    assert outcome.ok, outcome.failure
    assert len(outcome.rows) == len(mlserver_iris.features)


@pytest.mark.parametrize("hosted_by", [pytest.param("participant", id="participant-hosted-not-comparable"),
                                       pytest.param("executor", id="executor-hosted-comparable")])
def test_measurements(mlserver_iris: MLServer, hosted_by: str) -> None:
    outcome = served(mlserver_iris, replace(SETTINGS, batch_size=16), hosted_by=hosted_by)
    assert outcome.ok, outcome.failure
    assert outcome.comparable is (hosted_by == "executor")
    found = {m.name: m for m in measurements(outcome)}
    for name in (*LATENCIES, "throughput", *COUNTS, "wall_time"):
        assert name in found, (name, sorted(found))
        measurement = found[name]
        assert measurement.measured_by == "gateway"
        assert measurement.step == "prediction"
        assert measurement.status == "measured", measurement
        assert measurement.value is not None and measurement.value >= 0
        assert measurement.flagged is (hosted_by != "executor"), measurement
        assert measurement.to_json()["trust"].startswith("host")
        if hosted_by != "executor":
            assert "hardware is unknown" in measurement.reason
            assert measurement.details.get("comparable") is False
    for name in LATENCIES:
        assert found[name].unit == "ms"
    assert found["requests"].value == outcome.requests == 10
    assert found["errors"].value == found["retries"].value == found["timeouts"].value == 0
    assert found["throughput"].value > 0  # type: ignore[operator]
    assert found["latency.p50"].tool == "httpx"


def test_unknown_model(mlserver_iris: MLServer) -> None:
    outcome = predict(Endpoint(url=mlserver_iris.url, model="no-such-model"), iris(mlserver_iris),
                      replace(SETTINGS, deadlines=replace(SETTINGS.deadlines, ready_s=1.0)), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("not_ready", "participant"), failure
    assert "/v2/models/no-such-model/ready" in failure.message and "HTTP 404" in failure.message
    assert "Participant:" in failure.message


def test_inputs_the_model_refuses(mlserver_iris: MLServer) -> None:
    """Three columns for a model fitted on four: MLServer answers an error status, and its text is in
    the message."""
    three = InputTable(ids=("a", "b"), columns=COLUMNS[:3], rows=[row[:3] for row in mlserver_iris.features[:2]])
    outcome = predict(Endpoint(url=mlserver_iris.url, model=mlserver_iris.model), three, SETTINGS, kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault, failure.batch) == ("http_status", "participant", 0)
    assert "HTTP 500" in failure.message and "Internal Server Error" in failure.message, failure.message
    assert "Participant:" in failure.message
