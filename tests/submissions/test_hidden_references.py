"""The hidden references never reach the endpoint: a phase's input table (ids, the input columns and
a column the organiser did not select) and its separate reference table (the labels), every one a
unique marker string, go through the gateway (``read_inputs`` then ``predict``) to a server that
records every byte it received. Those bytes hold no reference label, no id, no unselected column:
only the input columns' values, in the protocol's requests. The auth secret travels in its header
only, and is in no outcome, note, message or measurement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultserver import FaultServer, labels

from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.inputs import read_inputs, write_predictions
from aibench_plugins.submissions.measurements import measurements
from aibench_plugins.submissions.types import Auth, Deadlines, Endpoint, GatewayOutcome, GatewaySettings, \
    JsonMapping, TableColumns

N = 23  # batches of 5: four full ones and one of 3
SECRET = "s3cr3t-TOKEN-9f1c2e7a"
SECRET_ENV = "AIBENCH_TEST_ENDPOINT_SECRET"
#: the headers a request may carry: HTTP's own and the auth header
HEADERS = {"host", "accept", "accept-encoding", "user-agent", "content-type", "content-length", "connection",
           "authorization"}


@dataclass(frozen=True)
class Phase:
    inputs: Path
    ids: list[str]
    references: list[str]
    hidden: list[str]   # the values of the input column the organiser did not select
    sent: list[list[Any]]  # the selected columns' values, as they must be sent


def phase(root: Path, *, text: bool) -> Phase:
    """``root/input_data/inputs.csv`` (id, x1, x2, [word], withheld) and ``root/reference_data/reference.csv``
    (id, label): ids, labels and withheld values are unique markers."""
    ids = [f"ID-MARKER-{i:03d}-qz" for i in range(N)]
    references = [f"REF-LABEL-{i:03d}-kv" for i in range(N)]
    hidden = [f"WITHHELD-{i:03d}-jx" for i in range(N)]
    sent: list[list[Any]] = []
    lines = ["id,x1,x2" + (",word" if text else "") + ",withheld"]
    for i in range(N):
        values: list[Any] = [round(0.5 + i * 0.25, 2), float(i * 3 + 1)]
        if text:
            values.append(f"VALUE-{i:03d}-word")
        sent.append(values)
        lines.append(",".join([ids[i], *map(str, values), hidden[i]]))
    (root / "input_data").mkdir()
    (root / "input_data" / "inputs.csv").write_text("\n".join(lines) + "\n")
    (root / "reference_data").mkdir()
    (root / "reference_data" / "reference.csv").write_text(
        "id,label\n" + "".join(f"{i},{r}\n" for i, r in zip(ids, references)))
    if text:  # a column holding a string goes as BYTES: every value as a string
        sent = [[v if isinstance(v, str) else str(v) for v in row] for row in sent]
    return Phase(root / "input_data", ids, references, hidden, sent)


def settings(text: bool) -> GatewaySettings:
    columns = ("x1", "x2", "word") if text else ("x1", "x2")
    return GatewaySettings(inputs=TableColumns("inputs.csv", id="id", columns=columns),
                           predictions=TableColumns("predictions.csv", id="id", columns=("label",)),
                           batch_size=5, deadlines=Deadlines(ready_s=2.0, first_request_s=5.0, request_s=5.0,
                                                             total_s=30.0))


def auth() -> Auth:
    return Auth(header="Authorization", secret_env=SECRET_ENV, scheme="Bearer")


def outcome_texts(outcome: GatewayOutcome) -> str:
    return json.dumps([outcome.to_json(), [m.to_json() for m in measurements(outcome)], repr(outcome)])


def assert_nothing_hidden(received: bytes, case: Phase) -> None:
    for marker in (*case.ids, *case.references, *case.hidden, "ID-MARKER", "REF-LABEL", "WITHHELD",
                   "reference", "withheld"):
        assert marker.encode() not in received, f"{marker!r} reached the endpoint"


@pytest.mark.parametrize("text", [pytest.param(False, id="numbers-fp64"), pytest.param(True, id="with-text-bytes")])
def test_open_inference_requests_hold_only_the_input_values(tmp_path: Path, text: bool) -> None:
    case = phase(tmp_path, text=text)
    spec = settings(text)
    table = read_inputs(case.inputs, spec.inputs)
    assert list(table.ids) == case.ids  # the ids are read, to be kept on the host
    with FaultServer("ok", auth=("authorization", f"Bearer {SECRET}")) as server:
        outcome = predict(Endpoint(url=server.url, model="m", auth=auth()), table, spec, kind="endpoint",
                          environ={SECRET_ENV: SECRET})
        received, requests = server.received, server.requests
    assert outcome.ok, outcome.failure
    assert server.unauthorised == 0
    assert [tuple(row) for row in outcome.rows] == [(v,) for v in labels(case.sent)]
    written = write_predictions(tmp_path / "output", spec.predictions, table.ids, outcome.rows)
    assert written.read_text().splitlines()[1].startswith(case.ids[0] + ",")  # the ids come back on the host

    assert_nothing_hidden(received, case)
    # every byte is a request of the protocol: its line, the allowed headers, and (infer) one input tensor
    assert len(received) == sum(r.size for r in requests), "bytes outside the parsed requests"
    infers = [r for r in requests if r.method == "POST"]
    assert {(r.method, r.target) for r in requests} == {
        ("GET", "/v2/health/ready"), ("GET", "/v2/models/m/ready"), ("GET", "/v2/models/m"),
        ("POST", "/v2/models/m/infer")}
    assert all(r.body == b"" for r in requests if r.method == "GET")
    assert len(infers) == 5
    data: list[Any] = []
    for request in requests:
        assert {name for name, _ in request.headers} <= HEADERS, request.headers
    for request in infers:
        document = json.loads(request.body)
        assert list(document) == ["inputs"] and len(document["inputs"]) == 1
        tensor = document["inputs"][0]
        assert set(tensor) == {"name", "shape", "datatype", "data"}
        assert tensor["datatype"] == ("BYTES" if text else "FP64")
        assert tensor["shape"][1] == len(spec.inputs.columns)
        data += tensor["data"]
    assert data == [value for row in case.sent for value in row]

    # the secret: in the auth header of every request, nowhere else
    assert received.count(SECRET.encode()) == len(requests)
    assert all(r.header("authorization") == f"Bearer {SECRET}" for r in requests)
    assert all(SECRET.encode() not in r.body and SECRET not in r.target for r in requests)
    assert SECRET not in outcome_texts(outcome)


@pytest.mark.parametrize("request_format", [pytest.param("rows", id="json-rows"),
                                            pytest.param("records", id="json-records")])
def test_plain_json_requests_hold_only_the_input_values(tmp_path: Path, request_format: str) -> None:
    case = phase(tmp_path, text=True)
    spec = settings(True)
    table = read_inputs(case.inputs, spec.inputs)
    mapping = JsonMapping(request_format=request_format)  # type: ignore[arg-type]
    with FaultServer("ok", auth=("authorization", f"Bearer {SECRET}")) as server:
        outcome = predict(Endpoint(url=server.url, protocol="json", auth=auth(), mapping=mapping), table, spec,
                          kind="endpoint", environ={SECRET_ENV: SECRET})
        received, requests = server.received, server.requests
    assert outcome.ok, outcome.failure
    assert_nothing_hidden(received, case)
    assert {(r.method, r.target) for r in requests} == {("GET", "/health"), ("POST", "/predict")}
    values: list[Any] = []
    for request in requests:
        if request.method == "POST":
            instances = json.loads(request.body)["instances"]
            if request_format == "records":
                assert all(list(item) == list(spec.inputs.columns) for item in instances)
                values += [list(item.values()) for item in instances]
            else:
                values += instances
    assert [[str(v) for v in row] for row in values] == case.sent
    assert received.count(SECRET.encode()) == len(requests)
    assert SECRET not in outcome_texts(outcome)


def test_a_secret_the_endpoint_echoes_is_not_recorded(tmp_path: Path) -> None:
    """The endpoint refuses with 401 and quotes the request's headers (the secret with them) in its
    body: the failure's message quotes the body, without the secret."""
    case = phase(tmp_path, text=False)
    spec = settings(False)
    with FaultServer("echo_auth_401") as server:
        outcome = predict(Endpoint(url=server.url, model="m", auth=auth()), read_inputs(case.inputs, spec.inputs),
                          spec, kind="endpoint", environ={SECRET_ENV: SECRET})
    failure = outcome.failure
    assert failure is not None and (failure.code, failure.fault) == ("http_status", "participant"), failure
    assert "HTTP 401" in failure.message and "refused the request with headers" in failure.message
    assert SECRET not in outcome_texts(outcome)
    assert SECRET not in json.dumps(failure.to_json())
