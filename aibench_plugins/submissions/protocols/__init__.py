"""The wire protocols the gateway speaks, behind one interface (:class:`Wire`): which paths say the
model is ready, where a batch is sent, how a batch is encoded and how an answer is decoded and
checked. ``_oip`` is the Open Inference Protocol v2 (REST), ``_json`` a plain JSON mapping.

A wire never does I/O: the gateway sends and times every request; a wire only turns rows into a body
and a body into rows, refusing (:class:`ResponseRefused`) an answer that is not the protocol's.
Encoding and decoding run once per request, so they stay small: stdlib ``json``, no schema machinery.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

from ...core.errors import AibenchError
from ..types import Endpoint, InputTable, Protocol

__all__ = ["ResponseRefused", "Wire", "loads", "wire_for"]


class ResponseRefused(AibenchError):
    """An answer the protocol refuses: ``code`` is the gateway's failure code (``malformed`` or
    ``wrong_shape``; ``wrong_rows`` when only the row count is off), ``message`` says what was expected
    and what was found, without the batch (the gateway adds it)."""

    def __init__(self, code: Literal["malformed", "wrong_shape", "wrong_rows"], message: str) -> None:
        super().__init__(message)
        self.code: Literal["malformed", "wrong_shape", "wrong_rows"] = code
        self.message = message


def _no_constant(name: str) -> Any:
    raise ResponseRefused("malformed", f"the JSON holds {name}, which JSON does not allow (send a number or null)")


def loads(body: bytes) -> Any:
    """``body`` parsed as strict JSON (no ``NaN``/``Infinity``); :class:`ResponseRefused` (``malformed``)
    otherwise."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except ResponseRefused:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        start = body[:80].decode("utf-8", "replace")
        raise ResponseRefused("malformed", f"the response is not JSON ({error}); it begins {start!r}") from None


class Wire(ABC):
    """One protocol for one endpoint and one table of inputs.

    ``ready_paths``: polled in order, each must answer 200 before the first batch is sent.
    ``metadata_path``: read once after readiness (its answer only goes into the outcome's notes), or
    ``None``. ``infer_path``: where every batch is POSTed. Paths are relative to the endpoint's URL.
    """

    protocol: Protocol
    ready_paths: tuple[str, ...]
    metadata_path: str | None
    infer_path: str

    @abstractmethod
    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """The request body of one batch (``rows``: one list of values per input, in column order)."""

    @abstractmethod
    def decode(self, body: bytes, n: int) -> list[Sequence[Any]]:
        """The predictions of one batch of ``n`` rows: ``n`` sequences of ``width`` values each.
        Raises :class:`ResponseRefused` for anything else."""

    def describe_metadata(self, body: bytes) -> str | None:
        """Take the model's metadata answer (read once, before the first batch): a one-line note for
        the outcome, or ``None``. A wire may adopt what it declares (OIP: the name and numeric
        datatype of its one input); an answer it cannot read changes nothing."""
        return None


def wire_for(endpoint: Endpoint, inputs: InputTable, outputs: Sequence[str]) -> Wire:
    """The wire of ``endpoint.protocol`` for ``inputs`` (their columns, in order; their values decide
    the tensor's datatype once, not per batch); ``outputs`` are the prediction columns expected back
    (empty: one column)."""
    if endpoint.protocol == "json":
        from ._json import JsonWire

        return JsonWire(endpoint, inputs, outputs)
    from ._oip import OipWire

    return OipWire(endpoint, inputs, outputs)
