"""The wires: what the Open Inference Protocol v2 and the plain JSON mapping send and accept, and
one round trip of each through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _servers import json_model, oip_model, serve

from aibench_plugins.submissions.gateway import predict
from aibench_plugins.submissions.protocols import ResponseRefused, Wire, loads, wire_for
from aibench_plugins.submissions.types import Deadlines, Endpoint, GatewaySettings, InputTable, JsonMapping, \
    TableColumns

INPUTS = InputTable(ids=("a", "b", "c"), columns=("x", "y"), rows=[[1.0, 2.0], [3, 4.5], [5.0, 6.0]])


def oip(outputs: tuple[str, ...] = ("label",), inputs: InputTable = INPUTS, **kw: Any) -> Wire:
    return wire_for(Endpoint(url="http://h", model="iris", **kw), inputs, outputs)


def answer(*outputs: dict[str, Any]) -> bytes:
    return json.dumps({"model_name": "iris", "outputs": list(outputs)}).encode()


def tensor(shape: list[int], data: list[Any], datatype: str = "FP64", name: str = "predict") -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_oip_paths() -> None:
    wire = oip()
    assert wire.ready_paths == ("/v2/health/ready", "/v2/models/iris/ready")
    assert (wire.metadata_path, wire.infer_path) == ("/v2/models/iris", "/v2/models/iris/infer")
    versioned = oip(version="2")
    assert versioned.ready_paths[1] == "/v2/models/iris/versions/2/ready"
    assert versioned.infer_path == "/v2/models/iris/versions/2/infer"
    odd = wire_for(Endpoint(url="http://h", model="a b/c"), INPUTS, ())
    assert odd.infer_path == "/v2/models/a%20b%2Fc/infer"


def test_oip_encodes_one_flat_tensor() -> None:
    body = json.loads(oip().encode(INPUTS.rows[:2]))
    assert body == {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [1.0, 2.0, 3, 4.5]}]}


def test_oip_sends_strings_as_bytes() -> None:
    inputs = InputTable(ids=("a",), columns=("t", "n"), rows=[["hello", 2]])
    body = json.loads(oip(inputs=inputs).encode(inputs.rows))
    assert body["inputs"][0]["datatype"] == "BYTES" and body["inputs"][0]["data"] == ["hello", "2"]


def test_oip_takes_the_declared_input_from_the_metadata() -> None:
    wire = oip()
    note = wire.describe_metadata(json.dumps({"name": "iris", "platform": "sklearn", "versions": ["1"],
                                              "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}],
                                              "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}]
                                              }).encode())
    assert note is not None and "platform 'sklearn'" in note and "x FP32" in note and "label INT64" in note
    sent = json.loads(wire.encode(INPUTS.rows[:1]))["inputs"][0]
    assert (sent["name"], sent["datatype"]) == ("x", "FP32")
    assert oip().describe_metadata(b"not json") is not None


@pytest.mark.parametrize(("shape", "data"), [([3], [0, 1, 2]), ([3, 1], [0, 1, 2]), ([3, 1], [[0], [1], [2]])],
                         ids=["n", "n-by-1", "nested"])
def test_oip_one_column(shape: list[int], data: list[Any]) -> None:
    assert oip().decode(answer(tensor(shape, data, "INT64")), 3) == [(0,), (1,), (2,)]


def test_oip_several_columns_in_one_tensor_or_one_tensor_each() -> None:
    two = oip(("p", "q"))
    assert two.decode(answer(tensor([3, 2], [1, 2, 3, 4, 5, 6])), 3) == [(1, 2), (3, 4), (5, 6)]
    each = answer(tensor([3], [7, 8, 9], name="q"), tensor([3, 1], [1, 2, 3], name="p"))
    assert two.decode(each, 3) == [(1, 7), (2, 8), (3, 9)]


def test_oip_picks_the_output_named_after_the_column() -> None:
    body = answer(tensor([3, 3], [0.1] * 9, name="predict_proba"), tensor([3], ["a", "b", "c"], "BYTES", "label"))
    assert oip(("label",)).decode(body, 3) == [("a",), ("b",), ("c",)]
    assert oip(("other",)).decode(body, 3) == [("a",), ("b",), ("c",)]  # the first of the expected shape
    with pytest.raises(ResponseRefused) as refused:
        oip(("other",)).decode(answer(tensor([3, 3], [0.1] * 9)), 3)  # none fits: outputs[0] is refused
    assert refused.value.code == "wrong_shape"


@pytest.mark.parametrize(("body", "code", "text"), [
    (b"[1, 2]", "malformed", "not a JSON object"),
    (b'{"outputs": [{"name": "p", "shape": [3], "datatype": "FP64", "data": [1, NaN, 2]}]}', "malformed", "NaN"),
    (b'{"outputs": {"p": 1}}', "malformed", "no \"outputs\" list"),
    (b'{"outputs": [3]}', "malformed", "not a JSON object"),
    (answer({"name": "p", "datatype": "FP64", "data": [1, 2, 3]}), "malformed", "no \"shape\""),
    (answer(tensor([3], [1, 2, 3], "FLOAT")), "wrong_shape", "datatype \"FLOAT\""),
    (answer(tensor([3, 1, 1], [1, 2, 3])), "wrong_shape", "shape [3, 1, 1]"),
    (answer(tensor([3], [1, 2])), "wrong_shape", "2 values in \"data\"; expected 3"),
    (answer(tensor([3], [1, "2", 3])), "wrong_shape", "FP64 but its data holds \"2\""),
    (answer(tensor([3], [True, False, 1], "BOOL")), "wrong_shape", "expected true or false"),
    (answer(tensor([3], [1, 2, 3], "BYTES")), "wrong_shape", "expected strings"),
    (answer(tensor([4], [1, 2, 3, 4])), "wrong_rows", "answers 4 rows; the batch sent 3"),
], ids=["a-list", "nan", "outputs-not-a-list", "output-not-an-object", "no-shape", "unknown-datatype",
        "three-dimensions", "short-data", "string-in-fp64", "int-in-bool", "int-in-bytes", "four-rows"])
def test_oip_refuses(body: bytes, code: str, text: str) -> None:
    with pytest.raises(ResponseRefused) as refused:
        oip().decode(body, 3)
    assert refused.value.code == code and text in refused.value.message


def test_loads_is_strict() -> None:
    assert loads(b'{"a": [1, 2.5, "x", true, null]}') == {"a": [1, 2.5, "x", True, None]}
    for body in (b"Infinity", b"\xff\xfe", b"{", b""):
        with pytest.raises(ResponseRefused):
            loads(body)


def json_wire(outputs: tuple[str, ...] = ("y",), **mapping: Any) -> Wire:
    return wire_for(Endpoint(url="http://h", protocol="json", mapping=JsonMapping(**mapping)), INPUTS, outputs)


def test_json_paths_and_request() -> None:
    wire = json_wire(path="/score", ready_path="/ok", request_field="data")
    assert (wire.ready_paths, wire.metadata_path, wire.infer_path) == (("/ok",), None, "/score")
    assert json.loads(wire.encode(INPUTS.rows[:2])) == {"data": [[1.0, 2.0], [3, 4.5]]}
    records = json_wire(request_format="records")
    assert json.loads(records.encode(INPUTS.rows[:1])) == {"instances": [{"x": 1.0, "y": 2.0}]}


def test_json_answers() -> None:
    assert json_wire().decode(b'{"predictions": [1, "b", [2.5]]}', 3) == [(1,), ("b",), (2.5,)]
    two = json_wire(("p", "q"), response_field="out")
    assert two.decode(b'{"out": [[1, 2], [3, 4], [5, 6]]}', 3) == [(1, 2), (3, 4), (5, 6)]


@pytest.mark.parametrize(("body", "outputs", "code", "text"), [
    (b'{"preds": [1, 2, 3]}', ("y",), "malformed", "with 'predictions'"),
    (b'[1, 2, 3]', ("y",), "malformed", "a JSON list"),
    (b'{"predictions": 3}', ("y",), "malformed", "not a list"),
    (b'{"predictions": [1, 2]}', ("y",), "wrong_rows", "holds 2 predictions; the batch sent 3"),
    (b'{"predictions": [1, {"a": 1}, 3]}', ("y",), "wrong_shape", "prediction 1"),
    (b'{"predictions": [1, null, 3]}', ("y",), "wrong_shape", "prediction 1"),
    (b'{"predictions": [[1, 2], [3], [5, 6]]}', ("p", "q"), "wrong_shape", "a list of 2"),
    (b'{"predictions": [1, 2, 3]}', ("p", "q"), "wrong_shape", "a list of 2"),
], ids=["no-field", "a-list", "not-a-list", "two-for-three", "an-object", "null", "short-row", "scalars-for-two"])
def test_json_refuses(body: bytes, outputs: tuple[str, ...], code: str, text: str) -> None:
    with pytest.raises(ResponseRefused) as refused:
        json_wire(outputs).decode(body, 3)
    assert refused.value.code == code and text in refused.value.message


def test_each_wire_round_trips_through_a_real_server() -> None:
    settings = GatewaySettings(inputs=TableColumns("in.csv"), predictions=TableColumns("out.csv", columns=("y",)),
                               deadlines=Deadlines(5, 5, 5, 20))
    with serve(oip_model(lambda rows: [r[0] * 10 for r in rows], name="iris")) as server:
        outcome = predict(Endpoint(url=server.url, model="iris"), INPUTS, settings, kind="endpoint")
    assert outcome.ok and outcome.rows == [(10.0,), (30.0,), (50.0,)]
    with serve(json_model(lambda rows: [[r[1]] for r in rows])) as server:
        outcome = predict(Endpoint(url=server.url, protocol="json"), INPUTS, settings, kind="endpoint")
    assert outcome.ok and outcome.rows == [(2.0,), (4.5,), (6.0,)]
