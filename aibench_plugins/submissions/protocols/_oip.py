"""The Open Inference Protocol v2 over REST (KServe v2, as Triton, KServe and Seldon MLServer speak it).

Readiness: ``GET /v2/health/ready`` then ``GET /v2/models/{m}/ready`` (``/versions/{v}`` when the
description names a version); metadata: ``GET /v2/models/{m}`` once; every batch:
``POST /v2/models/{m}/infer`` with one input tensor ``[n, k]`` (``FP64``, or ``BYTES`` when a column
holds strings), flattened in row-major order. The answer's tensors named after the prediction
columns (else the first output of the expected shape, else ``outputs[0]``) must have shape ``[n]``
or ``[n, c]`` (``c`` prediction columns), a datatype of the protocol and ``product(shape)`` values
of that datatype.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ..types import Endpoint, InputTable
from . import ResponseRefused, Wire, loads

NUMERIC = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                     "FP16", "FP32", "FP64"})
DATATYPES = NUMERIC | {"BOOL", "BYTES"}


def input_datatype(rows: Sequence[Sequence[Any]]) -> str:
    """``FP64`` when every value is a number, ``BYTES`` otherwise (strings are sent as strings)."""
    for row in rows:
        for value in row:
            kind = type(value)
            if kind is not float and kind is not int:
                return "BYTES"
    return "FP64"


def _flat(data: list[Any]) -> list[Any]:
    if not any(type(v) is list for v in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if type(value) is list:
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def _check_values(name: str, datatype: str, data: list[Any]) -> None:
    if datatype in NUMERIC:
        bad = next((v for v in data if (type(v) is not float and type(v) is not int)), _OK)
        wanted = "numbers"
    elif datatype == "BOOL":
        bad = next((v for v in data if type(v) is not bool), _OK)
        wanted = "true or false"
    else:
        bad = next((v for v in data if type(v) is not str), _OK)
        wanted = "strings"
    if bad is not _OK:
        raise ResponseRefused("wrong_shape", f"output {name!r} is {datatype} but its data holds "
                                             f"{json.dumps(bad)[:40]}; expected {wanted}")


_OK = object()


class OipWire(Wire):
    protocol = "open-inference-v2"

    def __init__(self, endpoint: Endpoint, inputs: InputTable, outputs: Sequence[str]) -> None:
        model = "/v2/models/" + quote(endpoint.model, safe="")
        if endpoint.version:
            model += "/versions/" + quote(endpoint.version, safe="")
        self.ready_paths = ("/v2/health/ready", model + "/ready")
        self.metadata_path = model
        self.infer_path = model + "/infer"
        self.width = max(1, len(outputs))
        self.outputs = tuple(outputs)
        self.k = len(inputs.columns)
        self.datatype = input_datatype(inputs.rows)
        self.input_name = "input-0"
        self._stringify = self.datatype == "BYTES"

    def describe_metadata(self, body: bytes) -> str | None:
        try:
            meta = loads(body)
        except ResponseRefused:
            return f"the model's metadata (GET {self.metadata_path}) is not JSON; ignored"
        if not isinstance(meta, dict):
            return None
        tensors = []
        declared = meta.get("inputs")
        if isinstance(declared, list) and len(declared) == 1 and isinstance(declared[0], dict):
            name, datatype = declared[0].get("name"), declared[0].get("datatype")
            if isinstance(name, str) and name:
                self.input_name = name  # Triton checks it; MLServer takes any name for one input
            if datatype in NUMERIC and self.datatype in NUMERIC:
                self.datatype = str(datatype)
        for key in ("inputs", "outputs"):
            listed = meta.get(key)
            if isinstance(listed, list):
                tensors.append(key + " " + ", ".join(
                    f"{t.get('name')} {t.get('datatype')} {t.get('shape')}" for t in listed[:8] if isinstance(t, dict)))
        text = (f"model metadata: name {meta.get('name')!r}, platform {meta.get('platform')!r}, "
                f"versions {meta.get('versions')!r}; " + "; ".join(tensors))
        return text[:400]

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self._stringify:
            data: list[Any] = [v if type(v) is str else str(v) for row in rows for v in row]
        else:
            data = [v for row in rows for v in row]
        body = {"inputs": [{"name": self.input_name, "shape": [len(rows), self.k], "datatype": self.datatype,
                            "data": data}]}
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, body: bytes, n: int) -> list[Sequence[Any]]:
        doc = loads(body)
        if type(doc) is not dict:
            raise ResponseRefused("malformed", "the response is not a JSON object with \"outputs\" (Open Inference "
                                               "Protocol v2 inference response)")
        outputs = doc.get("outputs")
        if type(outputs) is not list or not outputs:
            raise ResponseRefused("malformed", "the response has no \"outputs\" list (Open Inference Protocol v2 "
                                               "inference response: {\"outputs\": [{\"name\", \"shape\", "
                                               "\"datatype\", \"data\"}]})")
        named = {o.get("name"): o for o in outputs if type(o) is dict} if len(outputs) > 1 or self.outputs else {}
        if self.width > 1 and all(c in named for c in self.outputs):
            columns = [self._tensor(named[c], n, 1) for c in self.outputs]
            return list(zip(*columns))
        chosen = named.get(self.outputs[0]) if self.outputs else None
        if chosen is None:  # the first output of the expected shape (predict before predict_proba), else the first
            chosen = next((o for o in outputs if type(o) is dict and self._fits(o.get("shape"))), outputs[0])
        data = self._tensor(chosen, n, self.width)
        if self.width == 1:
            return list(zip(data))
        it = iter(data)
        return list(zip(*([it] * self.width)))

    def _fits(self, shape: Any) -> bool:
        if type(shape) is not list:
            return False
        return (len(shape) == 1 and self.width == 1) or (len(shape) == 2 and shape[1] == self.width)

    def _tensor(self, tensor: Any, n: int, width: int) -> list[Any]:
        if type(tensor) is not dict:
            raise ResponseRefused("malformed", "an output is not a JSON object {\"name\", \"shape\", \"datatype\", "
                                               "\"data\"}")
        name = tensor.get("name", "?")
        shape, datatype, data = tensor.get("shape"), tensor.get("datatype"), tensor.get("data")
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
            raise ResponseRefused("malformed", f"output {name!r} has no \"shape\" list of sizes (found "
                                               f"{json.dumps(shape)[:60]})")
        if datatype not in DATATYPES:
            raise ResponseRefused("wrong_shape", f"output {name!r} has datatype {json.dumps(datatype)[:40]}; "
                                                 f"expected one of {', '.join(sorted(DATATYPES))}")
        if type(data) is not list:
            raise ResponseRefused("malformed", f"output {name!r} has no \"data\" list")
        wanted = f"[{n}]" + (f" or [{n}, {width}]" if width > 1 else f" or [{n}, 1]")
        if len(shape) not in (1, 2) or (len(shape) == 1 and width != 1) or (len(shape) == 2 and shape[1] != width):
            raise ResponseRefused("wrong_shape", f"output {name!r} has shape {shape}; expected {wanted} "
                                                 f"({width} prediction column{'s' if width != 1 else ''} per row)")
        data = _flat(data)
        size = shape[0] * (shape[1] if len(shape) == 2 else 1)
        if len(data) != size:
            raise ResponseRefused("wrong_shape", f"output {name!r} has shape {shape} but {len(data)} values in "
                                                 f"\"data\"; expected {size} (the product of its shape)")
        if shape[0] != n:
            raise ResponseRefused("wrong_rows", f"output {name!r} answers {shape[0]} rows; the batch sent {n} "
                                                f"(answer every row of every batch, in order)")
        _check_values(name, datatype, data)
        return data
