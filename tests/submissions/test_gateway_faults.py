"""The gateway against endpoints that are wrong in one way each (``faultserver``: a real HTTP server
on 127.0.0.1): every fault ends in a failure with its code, the participant's fault, and a message
that says what happened and what to do; the faults a gateway must live with (a slow first request,
one reset connection, a redirect to the same host) do not fail the prediction."""

from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import pytest
from faultserver import FaultServer, labels
from mlserver_fixture import free_port

from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.types import Deadlines, Endpoint, GatewayFailure, GatewayOutcome, GatewaySettings, \
    InputTable, TableColumns

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5], [4.4, 2.9, 1.4, 0.2], [7.7, 2.6, 6.9, 2.3]]
INPUTS = InputTable(ids=tuple(f"row-{i}" for i in range(10)), columns=("a", "b", "c", "d"), rows=ROWS * 2)
#: 10 rows in batches of 4: batches 0, 1 (4 rows) and 2 (2 rows)
SETTINGS = GatewaySettings(inputs=TableColumns("inputs.csv"), predictions=TableColumns("predictions.csv",
                                                                                      columns=("label",)),
                           batch_size=4, deadlines=Deadlines(ready_s=0.5, first_request_s=0.5, request_s=0.5,
                                                             total_s=20.0),
                           max_response_bytes=1 << 20, retries=2, backoff_s=0.05)
MIB = 1 << 20


def run(server: FaultServer | str, settings: GatewaySettings = SETTINGS, **endpoint: object) -> GatewayOutcome:
    url = server if isinstance(server, str) else server.url
    return predict(Endpoint(url=url, model="m", **endpoint), INPUTS, settings, kind="endpoint")  # type: ignore[arg-type]


ANY_BATCH = -1


def failed(outcome: GatewayOutcome, code: str, *phrases: str, batch: int | None = None) -> GatewayFailure:
    """The outcome failed with ``code``, the participant's fault, in ``batch`` (None: before the
    batches; :data:`ANY_BATCH`: any); the message holds the phrases and tells the participant what
    to do; the predictions kept are the right ones."""
    failure = outcome.failure
    assert failure is not None, f"the gateway succeeded: {outcome.rows}"
    assert (failure.code, failure.fault) == (code, "participant"), failure
    assert batch == ANY_BATCH or failure.batch == batch, failure
    for phrase in (*phrases, "Participant:"):
        assert phrase in failure.message, (phrase, failure.message)
    assert not outcome.rows or outcome.rows == [(v,) for v in labels(INPUTS.rows)][:len(outcome.rows)]
    return failure


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    fault, options = request.param if isinstance(request.param, tuple) else (request.param, {})
    with FaultServer(fault, total_rows=len(INPUTS.rows), **options) as started:
        yield started


# -- the faults that must not fail ---------------------------------------------------------------


@pytest.mark.parametrize("server", [
    pytest.param("ok", id="well-behaved"),
    pytest.param(("late_ready", {"delay_s": 0.3}), id="ready-late-within-the-deadline"),
    pytest.param(("slow_first", {"delay_s": 1.0}), id="slow-first-request-exempt"),
    pytest.param("reset_once", id="connection-reset-once-retried"),
    pytest.param("redirect_self", id="redirect-to-itself-followed"),
], indirect=True)
def test_what_the_gateway_lives_with(server: FaultServer) -> None:
    settings = replace(SETTINGS, deadlines=replace(SETTINGS.deadlines, ready_s=5.0, first_request_s=5.0))
    outcome = run(server, settings)
    assert outcome.ok, outcome.failure
    assert [tuple(row) for row in outcome.rows] == [(v,) for v in labels(INPUTS.rows)]
    assert outcome.batches == 3
    assert len(outcome.latencies_ms) == 3
    expected_retries = 1 if server.fault == "reset_once" else 0
    assert outcome.retries == expected_retries
    infer_paths = [r.target for r in server.requests if r.method == "POST"]
    if server.fault == "redirect_self":
        assert infer_paths == ["/v2/models/m/infer", "/v2/models/m/infer?moved=1"] * 3
        assert any("same host: followed" in note for note in outcome.notes), outcome.notes
    else:
        assert len(infer_paths) == 3 + expected_retries


# -- the endpoint is not there or not ready ------------------------------------------------------


def test_endpoint_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    outcome = run(url)
    failed(outcome, "unreachable", "nothing answered at " + url, "0.5 s", "deadlines.ready_s", "refused")
    assert outcome.requests == 0 and outcome.rows == []


@pytest.mark.parametrize("server", [pytest.param("never_ready", id="never-ready-503")], indirect=True)
def test_never_ready(server: FaultServer) -> None:
    outcome = run(server)
    failed(outcome, "not_ready", "not ready within the readiness deadline of 0.5 s", "/v2/models/m/ready",
           "HTTP 503", "model is loading")
    assert server.infers == 0


@pytest.mark.parametrize("server", [pytest.param("not_found", id="model-name-unknown-404")], indirect=True)
def test_model_not_served(server: FaultServer) -> None:
    failed(run(server), "not_ready", "HTTP 404", "Is the model named 'm'?")


@pytest.mark.parametrize("server", [pytest.param(("ok", {"auth": ("authorization", "Bearer x")}),
                                                id="auth-required-none-described")], indirect=True)
def test_auth_the_description_lacks(server: FaultServer) -> None:
    failed(run(server), "not_ready", "/v2/health/ready", "HTTP 401", "unauthorised")
    assert server.unauthorised >= 1


@pytest.mark.parametrize("server", [pytest.param("went_down", id="down-after-the-first-batch")], indirect=True)
def test_went_down_after_the_first_batch(server: FaultServer) -> None:
    outcome = run(server)
    failed(outcome, "unreachable", "batch 1", "after 2 retries", "refused", batch=1)
    assert outcome.rows == [(v,) for v in labels(INPUTS.rows[:4])]
    assert outcome.retries == 2


# -- slow ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("server", [pytest.param(("slow_later", {"delay_s": 3.0}), id="slow-later-request")],
                         indirect=True)
def test_slow_past_the_request_deadline(server: FaultServer) -> None:
    settings = replace(SETTINGS, deadlines=replace(SETTINGS.deadlines, first_request_s=5.0))
    outcome = run(server, settings)
    failed(outcome, "timeout", "batch 1", "within 0.5 s", "deadlines.request_s", batch=1)
    assert outcome.timeouts == 1 and outcome.retries == 0
    assert server.infers == 2  # a timeout is not retried


@pytest.mark.parametrize("server", [pytest.param(("slow_later", {"delay_s": 3.0}), id="slow-vs-own-timeout")],
                         indirect=True)
def test_slow_past_the_endpoints_own_timeout(server: FaultServer) -> None:
    settings = replace(SETTINGS, deadlines=replace(SETTINGS.deadlines, first_request_s=5.0, request_s=10.0))
    failed(run(server, settings, request_timeout_s=0.4), "timeout", "within 0.4 s", "request_timeout_s", batch=1)


@pytest.mark.parametrize("server", [pytest.param(("slow", {"delay_s": 3.0}), id="slow-first-past-its-bound")],
                         indirect=True)
def test_slow_first_request_past_its_own_bound(server: FaultServer) -> None:
    failed(run(server), "timeout", "first request", "deadlines.first_request_s", batch=0)


@pytest.mark.parametrize("server", [pytest.param(("drip", {"delay_s": 0.05}), id="answer-dripping-byte-by-byte")],
                         indirect=True)
def test_answer_dripping_past_the_deadline(server: FaultServer) -> None:
    """Each byte comes quickly enough for a socket read timeout; the whole answer does not."""
    failed(run(server), "timeout", "first request", batch=0)


@pytest.mark.parametrize("server", [pytest.param(("slow", {"delay_s": 0.3}), id="total-budget")], indirect=True)
def test_total_budget(server: FaultServer) -> None:
    settings = replace(SETTINGS, batch_size=1, deadlines=Deadlines(ready_s=1.0, first_request_s=1.0, request_s=1.0,
                                                                   total_s=1.0))
    outcome = run(server, settings)
    failure = failed(outcome, "budget", "total budget of 1 s", "deadlines.total_s", batch=ANY_BATCH)
    assert failure.batch is not None and 0 < failure.batch < 10


# -- wrong answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "code", "phrases"), [
    pytest.param("malformed", "malformed", ("not JSON",), id="malformed-json"),
    pytest.param("not_oip", "malformed", ('"outputs"',), id="json-without-outputs"),
    pytest.param("garbage", "malformed", ("HTTP/1.1",), id="not-http"),
    pytest.param("gzip", "malformed", ("compressed", "gzip"), id="compressed-answer"),
    pytest.param("wrong_shape", "wrong_shape", ("shape [4, 2]", "expected [4] or [4, 1]"), id="wrong-shape"),
    pytest.param("shape_data", "wrong_shape", ("5 values",), id="data-longer-than-shape"),
    pytest.param("wrong_datatype", "wrong_shape", ("INT64", "class-"), id="strings-as-int64"),
    pytest.param("bad_datatype", "wrong_shape", ("COMPLEX128",), id="unknown-datatype"),
    pytest.param("one_row_short", "wrong_rows", ("3 rows", "sent 4"), id="one-row-short"),
    pytest.param("hold_back", "wrong_rows", ("0 rows", "no holding back"), id="rows-held-back-for-the-last-batch"),
    pytest.param("http_500", "http_status", ("HTTP 500", "ZeroDivisionError"), id="http-500"),
], indirect=["server"])
def test_wrong_answer(server: FaultServer, code: str, phrases: tuple[str, ...]) -> None:
    outcome = run(server)
    failed(outcome, code, "batch 0", *phrases, batch=0)
    assert outcome.errors >= 1
    if code != "malformed" or server.fault != "garbage":
        assert server.infers == 1  # answered: not retried


@pytest.mark.parametrize("server", [pytest.param("reset_always", id="connection-reset-always")], indirect=True)
def test_connection_reset_every_time(server: FaultServer) -> None:
    outcome = run(server)
    failed(outcome, "unreachable", "batch 0", "after 2 retries", "reset", batch=0)
    assert outcome.retries == 2 and server.infers == 3


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [pytest.param("127.0.0.1", id="same-ip-other-port"),
                                  pytest.param("127.0.0.2", id="other-ip")])
def test_redirect_to_another_host(host: str) -> None:
    with FaultServer("ok", host=host) as other, FaultServer("redirect_other") as server:
        server.location = other.url + "/v2/models/m/infer"
        outcome = run(server)
        failed(outcome, "redirect", "redirected to another host", other.url, batch=0)
        assert other.received == b""  # nothing went to the other host


@pytest.mark.parametrize("server", [pytest.param("redirect_loop", id="redirect-loop")], indirect=True)
def test_redirect_loop(server: FaultServer) -> None:
    failed(run(server), "redirect", "more than 3 times", batch=0)
    assert server.infers == 4


# -- a huge answer -------------------------------------------------------------------------------


@pytest.mark.parametrize("server", [
    pytest.param("huge_chunked", id="1GB-chunked-no-length"),
    pytest.param("huge_length", id="1GB-with-content-length"),
], indirect=True)
def test_one_gigabyte_answer_is_cut(server: FaultServer) -> None:
    """The server would stream 1 GiB (made piece by piece); the gateway stops at max_response_bytes
    (1 MiB here) without holding more, and the server could send only what the sockets buffer."""
    assert server.huge_bytes == 1 << 30
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        outcome = run(server)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    how = "Content-Length" if server.fault == "huge_length" else "stopped reading after"
    failed(outcome, "too_large", "larger than the limit of 1048576 bytes", "max_response_bytes", how, batch=0)
    assert peak < 16 * MIB, f"the gateway held {peak / MIB:.1f} MiB"
    assert rss_after - rss_before < 128 * MIB
    server.close()
    assert server.sent < 64 * MIB, f"the server got {server.sent / MIB:.1f} MiB out"


# -- the serving side's own health -----------------------------------------------------------------


@pytest.mark.parametrize("server", [pytest.param("ok", id="health-failure-wins")], indirect=True)
def test_health_failure_wins(server: FaultServer) -> None:
    calls: list[int] = []

    def health() -> GatewayFailure | None:
        calls.append(1)
        if server.infers >= 1:
            return GatewayFailure("network", "participant", "the serving container tried to reach the network. "
                                                            "Participant: serve without the network.")
        return None

    outcome = predict(Endpoint(url=server.url, model="m"), INPUTS, replace(SETTINGS, batch_size=1), kind="endpoint",
                      health=health)
    assert outcome.failure is not None and outcome.failure.code == "network", outcome.failure
    assert outcome.failure.fault == "participant" and calls
