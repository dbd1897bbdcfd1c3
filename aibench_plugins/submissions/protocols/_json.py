"""Plain JSON over HTTP with the description's :class:`~aibench_plugins.submissions.types.JsonMapping`:
``GET ready_path`` answers 200 when the model is ready; every batch is ``POST path`` with
``{request_field: rows}`` (``rows``: lists of values in the inputs' column order, or ``records``:
objects keyed by column), answered with ``{response_field: [one value, or one list of c values, per row]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..types import Endpoint, InputTable
from . import ResponseRefused, Wire, loads

_SCALARS = (float, int, str, bool)


class JsonWire(Wire):
    protocol = "json"

    def __init__(self, endpoint: Endpoint, inputs: InputTable, outputs: Sequence[str]) -> None:
        mapping = endpoint.mapping
        self.ready_paths = (mapping.ready_path,)
        self.metadata_path = None
        self.infer_path = mapping.path
        self.request_field = mapping.request_field
        self.response_field = mapping.response_field
        self.records = mapping.request_format == "records"
        self.columns = tuple(inputs.columns)
        self.width = max(1, len(outputs))

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self.records:
            columns = self.columns
            payload: list[Any] = [dict(zip(columns, row)) for row in rows]
        else:
            payload = [list(row) for row in rows]
        return json.dumps({self.request_field: payload}, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, body: bytes, n: int) -> list[Sequence[Any]]:
        doc = loads(body)
        field = self.response_field
        if type(doc) is not dict or field not in doc:
            found = "an object with keys " + ", ".join(map(repr, list(doc)[:8])) if type(doc) is dict else \
                f"a JSON {type(doc).__name__}"
            raise ResponseRefused("malformed", f"the response is not a JSON object with {field!r} (the description's "
                                               f"json.response_field); found {found}")
        values = doc[field]
        if type(values) is not list:
            raise ResponseRefused("malformed", f"{field!r} is not a list with one prediction per row")
        if len(values) != n:
            raise ResponseRefused("wrong_rows", f"{field!r} holds {len(values)} predictions; the batch sent {n} rows "
                                                f"(answer every row of every batch, in order)")
        width = self.width
        rows: list[Sequence[Any]] = []
        for i, value in enumerate(values):
            if type(value) is list:
                if len(value) != width or not all(type(v) in _SCALARS for v in value):
                    raise ResponseRefused("wrong_shape", f"prediction {i} of the batch is {json.dumps(value)[:60]}; "
                                                         f"expected {self._wanted()}")
                rows.append(tuple(value))
            elif width == 1 and type(value) in _SCALARS:
                rows.append((value,))
            else:
                raise ResponseRefused("wrong_shape", f"prediction {i} of the batch is {json.dumps(value)[:60]}; "
                                                     f"expected {self._wanted()}")
        return rows

    def _wanted(self) -> str:
        if self.width == 1:
            return "one number or string (or a list of one) per row"
        return f"a list of {self.width} numbers or strings per row (one per prediction column)"
