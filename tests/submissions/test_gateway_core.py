"""The gateway against small real HTTP servers on 127.0.0.1 (tests/submissions/_servers.py): batches,
readiness, deadlines, retries, redirects, size limits, auth, health and the failure messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _servers import Reply, Request, free_port, json_model, oip_model, serve

from aibench_plugins.submissions.gateway import predict, public_url
from aibench_plugins.submissions.types import Auth, Deadlines, Endpoint, GatewayFailure, GatewaySettings, InputTable, \
    JsonMapping, TableColumns


def settings(*, batch_size: int = 4, retries: int = 2, max_response_bytes: int = 1 << 20,
             columns: tuple[str, ...] = ("y",), **deadlines: float) -> GatewaySettings:
    timing = {"ready_s": 5.0, "first_request_s": 5.0, "request_s": 5.0, "total_s": 30.0, **deadlines}
    return GatewaySettings(inputs=TableColumns("inputs.csv", columns=("a", "b")),
                           predictions=TableColumns("predictions.csv", columns=columns), batch_size=batch_size,
                           deadlines=Deadlines(**timing), max_response_bytes=max_response_bytes, retries=retries,
                           backoff_s=0.01)


def table(n: int = 10) -> InputTable:
    return InputTable(ids=tuple(f"id-{i}" for i in range(n)), columns=("a", "b"),
                      rows=[[float(i), 0.5] for i in range(n)])


def oip(url: str, **kw: Any) -> Endpoint:
    return Endpoint(url=url, model="m", **kw)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of a test: slow handlers stop waiting."""
    event = threading.Event()
    yield event
    event.set()


def test_oip_batches_in_order_on_one_connection() -> None:
    seen: list[tuple[int, int]] = []
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), table(10), settings(batch_size=4), kind="endpoint",
                          progress=lambda done, total: seen.append((done, total)))
    assert outcome.ok, outcome.failure
    assert outcome.rows == [(float(i) + 0.5,) for i in range(10)]
    assert seen == [(4, 10), (8, 10), (10, 10)]
    assert (outcome.batches, outcome.requests, outcome.errors, outcome.retries) == (3, 3, 0, 0)
    assert len(outcome.latencies_ms) == 3 and all(v > 0 for v in outcome.latencies_ms)
    assert outcome.ready_s is not None and outcome.wall_s >= outcome.ready_s
    assert server.connections == 1
    assert server.paths() == ["/v2/health/ready", "/v2/models/m/ready", "/v2/models/m", "/v2/models/m/infer",
                              "/v2/models/m/infer", "/v2/models/m/infer"]
    body = server.requests[3].json()
    assert body == {"inputs": [{"name": "input-0", "shape": [4, 2], "datatype": "FP64",
                                "data": [0.0, 0.5, 1.0, 0.5, 2.0, 0.5, 3.0, 0.5]}]}
    assert any(note.startswith("model metadata:") for note in outcome.notes)
    assert (outcome.kind, outcome.protocol, outcome.comparable) == ("endpoint", "open-inference-v2", False)


def test_the_ids_are_never_sent() -> None:
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), table(5), settings(), kind="endpoint")
    assert outcome.ok
    sent = b"".join(r.body + r.path.encode() + repr(r.headers).encode() for r in server.requests)
    assert b"id-" not in sent


def test_a_version_and_the_metadata_input_name() -> None:
    def route(request: Request) -> Reply | None:
        if request.path == "/v2/models/m/versions/3":
            return Reply.of({"name": "m", "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 2]}]})
        return oip_model(version="3")(request)

    with serve(route) as server:
        outcome = predict(oip(server.url, version="3"), table(3), settings(), kind="serving_image")
    assert outcome.ok, outcome.failure
    assert "/v2/models/m/versions/3/ready" in server.paths()
    tensor = server.requests[-1].json()["inputs"][0]
    assert (tensor["name"], tensor["datatype"]) == ("features", "FP32")


def test_strings_go_as_bytes_and_come_back_as_strings() -> None:
    inputs = InputTable(ids=("1", "2"), columns=("text", "n"), rows=[["good", 1.0], ["bad", 2.0]])
    with serve(oip_model(lambda rows: ["pos" if r[0] == "good" else "neg" for r in rows])) as server:
        outcome = predict(oip(server.url), inputs, settings(), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert outcome.rows == [("pos",), ("neg",)]
    tensor = server.requests[-1].json()["inputs"][0]
    assert tensor["datatype"] == "BYTES" and tensor["data"] == ["good", "1.0", "bad", "2.0"]


def test_two_prediction_columns() -> None:
    with serve(oip_model(lambda rows: [[r[0], -r[0]] for r in rows])) as server:
        outcome = predict(oip(server.url), table(3), settings(columns=("p", "q")), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert outcome.rows == [(0.0, -0.0), (1.0, -1.0), (2.0, -2.0)]


@pytest.mark.parametrize("request_format", ["rows", "records"])
def test_plain_json(request_format: str) -> None:
    mapping = JsonMapping(path="/api/score", ready_path="/up", request_field="x", response_field="out",
                          request_format=request_format)  # type: ignore[arg-type]
    with serve(json_model(path="/api/score", ready_path="/up", request_field="x", response_field="out")) as server:
        outcome = predict(Endpoint(url=server.url + "/", protocol="json", mapping=mapping), table(5), settings(),
                          kind="endpoint")
    assert outcome.ok, outcome.failure
    assert outcome.rows == [(float(i) + 0.5,) for i in range(5)]
    first = server.requests[1].json()["x"][0]
    assert first == ({"a": 0.0, "b": 0.5} if request_format == "records" else [0.0, 0.5])
    assert server.paths() == ["/up", "/api/score", "/api/score"]


def test_the_endpoints_smaller_batch_size_wins() -> None:
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url, batch_size=2), table(5), settings(batch_size=4), kind="endpoint")
        larger = predict(oip(server.url, batch_size=100), table(5), settings(batch_size=4), kind="endpoint")
    assert outcome.ok and outcome.batches == 3
    assert any("batches of 2 rows" in note for note in outcome.notes)
    assert larger.ok and larger.batches == 2


def test_no_inputs_no_requests() -> None:
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), table(0), settings(), kind="endpoint")
    assert outcome.ok and outcome.rows == [] and outcome.requests == 0


def test_readiness_is_polled_until_it_answers() -> None:
    probes = {"n": 0}
    model = oip_model()

    def route(request: Request) -> Reply | None:
        if request.path == "/v2/models/m/ready":
            probes["n"] += 1
            if probes["n"] < 3:
                return Reply.of({"ready": False}, 503)
        return model(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(2), settings(), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert probes["n"] == 3
    assert outcome.requests == 1  # probes are not inference requests


def test_never_ready() -> None:
    with serve(lambda request: Reply.of({"ready": False}, 503)) as server:
        outcome = predict(oip(server.url), table(2), settings(ready_s=0.5), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault, failure.batch) == ("not_ready", "participant", None)
    assert "0.5 s (deadlines.ready_s)" in failure.message and "HTTP 503" in failure.message
    assert "/v2/health/ready" in failure.message
    assert outcome.requests == 0


def test_a_wrong_model_name_gets_a_hint() -> None:
    with serve(oip_model(name="iris")) as server:
        outcome = predict(oip(server.url), table(2), settings(ready_s=0.3), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "not_ready"
    assert "Is the model named 'm'?" in outcome.failure.message


def test_nothing_listening() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    outcome = predict(oip(url), table(2), settings(ready_s=0.3), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("unreachable", "participant")
    assert url in failure.message and "refused" in failure.message and "0.3 s" in failure.message


def test_the_first_request_may_load_the_model(release: threading.Event) -> None:
    model = oip_model()
    posts = {"n": 0}

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] == 1:
                release.wait(1.5)  # longer than request_s, shorter than first_request_s
        return model(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(request_s=1.0, first_request_s=10), kind="endpoint")
    assert outcome.ok, outcome.failure


def test_a_slow_first_request(release: threading.Event) -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            release.wait(5)
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(first_request_s=0.3), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.batch) == ("timeout", 0)
    assert "first_request_s" in failure.message and "0.3 s" in failure.message
    assert (outcome.timeouts, outcome.retries) == (1, 0)


def test_a_slow_later_request_names_the_deadline_that_applied(release: threading.Event) -> None:
    posts = {"n": 0}

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] == 2:
                release.wait(5)
        return oip_model()(request)

    with serve(route) as server:
        organisers = predict(oip(server.url), table(8), settings(request_s=0.3), kind="endpoint")
        posts["n"] = 0
        own = predict(oip(server.url, request_timeout_s=0.2), table(8), settings(request_s=3), kind="endpoint")
    for outcome, text in ((organisers, "deadlines.request_s 0.3 s"), (own, "request_timeout_s 0.2 s")):
        failure = outcome.failure
        assert failure is not None and (failure.code, failure.batch) == ("timeout", 1), failure
        assert text in failure.message and "batch 1 (input rows 4..7 of 8" in failure.message
        assert outcome.timeouts == 1 and outcome.requests == 2 and outcome.retries == 0
        assert len(outcome.rows) == 4


def test_the_total_budget(release: threading.Event) -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            release.wait(5)
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(total_s=1.5), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "budget"
    assert "total budget of 1.5 s" in outcome.failure.message


def test_http_500_is_not_retried() -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(500, b"Traceback: KeyError 'features'")
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault, failure.batch) == ("http_status", "participant", 0)
    assert "HTTP 500" in failure.message and "KeyError 'features'" in failure.message
    assert server.paths("POST") == ["/v2/models/m/infer"]
    assert (outcome.retries, outcome.errors) == (0, 1)


def test_a_dropped_connection_is_retried() -> None:
    posts = {"n": 0}

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] == 2:
                return None  # closed without an answer
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert (outcome.retries, outcome.errors, outcome.requests, outcome.batches) == (1, 1, 3, 2)
    assert any("retried (1 of 2)" in note and "batch 1" in note for note in outcome.notes)


def test_retries_run_out() -> None:
    def route(request: Request) -> Reply | None:
        return None if request.method == "POST" else oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(8), settings(retries=2), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.batch) == ("unreachable", 0)
    assert "after 2 retries" in failure.message
    assert len(server.paths("POST")) == 3 and outcome.retries == 2


def test_a_redirect_to_the_same_host_is_followed() -> None:
    def route(request: Request) -> Reply | None:
        if request.path.startswith("/old"):
            return Reply(307, headers={"location": request.path[len("/old"):]})
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url + "/old"), table(3), settings(), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert server.paths("POST") == ["/old/v2/models/m/infer", "/v2/models/m/infer"]
    assert any("the same host: followed" in note for note in outcome.notes)


def test_a_redirect_to_another_host_is_refused() -> None:
    with serve(oip_model()) as other:
        def route(request: Request) -> Reply | None:
            if request.method == "POST":
                return Reply(307, headers={"location": other.url + request.path + "?token=abc"})
            return oip_model()(request)

        with serve(route) as server:
            outcome = predict(oip(server.url), table(3), settings(), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.batch) == ("redirect", 0)
    assert other.url in failure.message and "token=abc" not in failure.message
    assert other.requests == []


def test_a_redirect_loop_stops() -> None:
    def route(request: Request) -> Reply | None:
        return Reply(302, headers={"location": request.path})

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "redirect"
    assert "more than 3 times" in outcome.failure.message
    assert len(server.requests) == 4


def test_an_answer_over_the_limit_by_its_length() -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(200, b"x" * 5000)
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(max_response_bytes=4096), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.batch) == ("too_large", 0)
    assert "4096 bytes" in failure.message and "Content-Length says 5000" in failure.message


def test_a_streamed_answer_is_cut_at_the_limit(release: threading.Event) -> None:
    sent = {"chunks": 0}

    def chunks() -> Iterator[bytes]:
        for _ in range(10_000):
            sent["chunks"] += 1
            yield b"[" * 1024
        release.wait(5)

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(200, chunks())  # no Content-Length: read until closed
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(max_response_bytes=64 << 10), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and failure.code == "too_large"
    assert "stopped reading after" in failure.message


def test_a_compressed_answer_is_refused() -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(200, b"\x1f\x8b", {"content-encoding": "gzip"})
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "malformed"
    assert server.requests[-1].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(("answer", "code", "text"), [
    (b"<html>oops</html>", "malformed", "not JSON"),
    (b'{"outputs": []}', "malformed", "no \"outputs\""),
    (b'{"outputs": [{"name": "p", "shape": [2], "datatype": "FP64", "data": [1, 2]}]}', "wrong_rows",
     "answers 2 rows; the batch sent 3"),
    (b'{"outputs": [{"name": "p", "shape": [3, 2], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]}', "wrong_shape",
     "expected [3] or [3, 1]"),
], ids=["html", "no-outputs", "two-rows-for-three", "two-columns-for-one"])
def test_answers_refused(answer: bytes, code: str, text: str) -> None:
    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(200, answer)
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault, failure.batch) == (code, "participant", 0)
    assert text in failure.message and "batch 0 (input rows 0..2 of 3" in failure.message
    assert outcome.rows == [] and outcome.errors == 1


def test_the_auth_header_and_a_secret_that_never_shows() -> None:
    secret = "s3cr3t-t0ken-value"

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(500, f"bad token {request.headers.get('authorization')}".encode())
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url, auth=Auth("Authorization", "TEAM_TOKEN", "Bearer")), table(3), settings(),
                          kind="endpoint", environ={"TEAM_TOKEN": secret})
    assert all(r.headers["authorization"] == f"Bearer {secret}" for r in server.requests)
    assert outcome.failure is not None and outcome.failure.code == "http_status"
    assert secret not in repr(outcome.to_json()) and "[secret]" in outcome.failure.message


def test_a_missing_secret_is_the_platforms() -> None:
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url, auth=Auth("X-Api-Key", "TEAM_TOKEN")), table(3), settings(),
                          kind="endpoint", environ={})
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("secret", "platform")
    assert "TEAM_TOKEN" in failure.message and "Organiser" in failure.message
    assert server.requests == []


def test_health_wins() -> None:
    exited = GatewayFailure("image", "participant", "the serving container exited with status 1")

    def route(request: Request) -> Reply | None:
        return None if request.method == "POST" else oip_model()(request)

    with serve(route) as server:
        during_readiness = predict(oip(server.url), table(3), settings(), kind="serving_image", health=lambda: exited)
        def later() -> GatewayFailure | None:
            return exited if server.paths("POST") else None

        after_an_error = predict(oip(server.url), table(3), settings(retries=0), kind="serving_image", health=later)
    assert during_readiness.failure == exited
    assert after_an_error.failure is not None and after_an_error.failure.code == "image"
    assert after_an_error.failure.batch == 0


def test_a_kind_the_phase_does_not_accept() -> None:
    plain = settings()
    only_images = GatewaySettings(inputs=plain.inputs, predictions=plain.predictions,
                                  accept=frozenset({"serving_image"}))
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), table(3), only_images, kind="endpoint")
    assert outcome.failure is not None and (outcome.failure.code, outcome.failure.fault) == ("not_allowed",
                                                                                              "participant")
    assert server.requests == []


def test_no_model_name() -> None:
    outcome = predict(Endpoint(url="http://127.0.0.1:9"), table(1), settings(), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "description"


def test_our_own_error_is_internal_and_has_no_traceback() -> None:
    def progress(done: int, total: int) -> None:
        raise KeyError("boom")

    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), table(3), settings(), kind="endpoint", progress=progress)
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("internal", "platform")
    assert "KeyError" in failure.message and "boom" in failure.message and "Traceback" not in failure.message


def test_inputs_json_cannot_carry() -> None:
    inputs = InputTable(ids=("1",), columns=("a",), rows=[[float("nan")]])
    with serve(oip_model()) as server:
        outcome = predict(oip(server.url), inputs, settings(), kind="endpoint")
    assert outcome.failure is not None and (outcome.failure.code, outcome.failure.fault) == ("inputs", "platform")


def test_the_recorded_url_holds_no_secrets() -> None:
    assert public_url("https://user:pw@Example.org:8443/base/path?key=1#x") == "https://example.org:8443/base/path"
    assert public_url("http://[::1]:80/") == "http://[::1]:80/"
    outcome = predict(Endpoint(url="http://127.0.0.1:9/x?key=secret", model="m"), table(1), settings(ready_s=0.1),
                      kind="endpoint")
    assert outcome.url == "http://127.0.0.1:9/x" and "key=secret" not in repr(outcome.to_json())


def test_a_host_name_that_does_not_resolve_fails_fast() -> None:
    # (where the resolver itself is unreachable, the name fails "temporarily": polled until ready_s, then the same code)
    outcome = predict(oip("http://no-such-host.invalid:8080"), table(1), settings(ready_s=20, total_s=30),
                      kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("unreachable", "participant")
    assert "no-such-host.invalid" in failure.message


def test_a_redirect_to_no_url() -> None:
    def route(request: Request) -> Reply | None:
        return Reply(301, headers={"location": "http://[broken"})

    with serve(route) as server:
        outcome = predict(oip(server.url), table(1), settings(), kind="endpoint")
    assert outcome.failure is not None and outcome.failure.code == "redirect"
    assert "redirected" in outcome.failure.message


def test_health_is_asked_after_the_last_batch_of_a_quick_prediction() -> None:
    exited = GatewayFailure("network", "participant", "the serving container tried to reach the network")
    with serve(oip_model()) as server:
        def health() -> GatewayFailure | None:
            return exited if server.paths("POST") else None

        outcome = predict(oip(server.url), table(2), settings(batch_size=1), kind="serving_image", health=health)
    assert outcome.failure is not None and outcome.failure.code == "network"
    assert outcome.failure.batch == 1 and len(outcome.rows) == 2


def test_notes_are_bounded() -> None:
    posts = {"n": 0}

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] % 2:
                return None  # every other request broken: retried each time
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(60), settings(batch_size=1), kind="endpoint")
    assert outcome.ok, outcome.failure
    assert outcome.retries == 60 and len(outcome.notes) == 41
    assert outcome.notes[-1].startswith("further notes left out")


def test_a_trickled_answer_ends_at_its_deadline(release: threading.Event) -> None:
    def trickle() -> Iterator[bytes]:
        yield b'{"outputs": ['
        for _ in range(100):
            if release.wait(0.25):
                return
            yield b" "

    def route(request: Request) -> Reply | None:
        if request.method == "POST":
            return Reply(200, trickle())
        return oip_model()(request)

    with serve(route) as server:
        outcome = predict(oip(server.url), table(3), settings(first_request_s=0.6), kind="endpoint")
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.batch) == ("timeout", 0)
    assert "first_request_s" in failure.message and outcome.timeouts == 1


def test_every_body_read_is_bounded_by_the_deadline() -> None:
    from aibench_plugins.submissions import gateway

    class Stream:
        def __init__(self) -> None:
            self.timeouts: list[float | None] = []

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            self.timeouts.append(timeout)
            return b""

    class Response:
        def __init__(self, stream: object) -> None:
            self.extensions = {"network_stream": stream}

    stream = Stream()
    undo = gateway._bound_reads(Response(stream), time.perf_counter() + 2.0)  # type: ignore[arg-type]
    stream.read(10, timeout=60.0)
    stream.read(10, timeout=0.5)
    undo()
    stream.read(10, timeout=60.0)
    first, second, after = stream.timeouts
    assert first is not None and 0 < first <= 2.0 and second == 0.5 and after == 60.0
    assert gateway._bound_reads(Response(None), 0.0)() is None  # type: ignore[arg-type]
