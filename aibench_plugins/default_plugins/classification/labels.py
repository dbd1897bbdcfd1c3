"""What both families of classification metrics share about labels: the class key of a
label (in per-class output names), label arrays checked for shape and type, the
position of labels among others, and the check of ``update``'s input names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aibench_plugins import MetricInfo, MetricInputError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]
else:
    Array = Any

__all__ = ["Array", "check_inputs", "class_key", "label_arrays", "label_list_param", "positions", "same_family"]

_LABEL_LIST = {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1, "uniqueItems": True}


def label_list_param(description: str) -> dict[str, Any]:
    """The schema of a param listing classes (``labels``, ``classes``): distinct labels,
    or null, the default."""
    return {"anyOf": [_LABEL_LIST, {"type": "null"}], "default": None, "description": description}

_KEY = re.compile(r"[A-Za-z0-9_]+")


def class_key(label: Any) -> str:
    """The name of a class in output names and column keys: the label's text when it is
    made of ``A-Za-z0-9_`` only, else that text with other runs of characters replaced
    by ``_`` (at most 24 characters) plus ``_`` and the first 6 hex digits of the
    SHA-256 of the text.

    >>> class_key(3), class_key("cat"), class_key("New York")
    ('3', 'cat', 'New_York_815eca')
    """
    text = str(label.item() if hasattr(label, "item") else label)
    if _KEY.fullmatch(text):
        return text
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:24]
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{slug}_{digest}" if slug else digest


def _family(array: Array) -> str:
    kind = array.dtype.kind
    return "number" if kind in "biuf" else "string" if kind in "US" else "object"


def same_family(a: Array, b: Array, what: str) -> None:
    if {_family(a), _family(b)} == {"number", "string"}:
        raise MetricInputError(f"{what} mix numbers and strings ({a.dtype} and {b.dtype}): labels must be all numbers "
                         f"or all strings (read both files with the same column types)")


def label_arrays(predictions: Any, references: Any) -> tuple[Array, Array]:
    import numpy as np

    predicted, truth = np.asarray(predictions), np.asarray(references)
    for name, array in (("predictions", predicted), ("references", truth)):
        if array.ndim != 1:
            raise MetricInputError(f"expected one label per sample, shape (n,), but {name} have shape {array.shape}: "
                             f"give labels, not per-class scores")
    if predicted.shape != truth.shape:
        raise MetricInputError(f"predictions have shape {predicted.shape} but references have shape {truth.shape}")
    same_family(predicted, truth, "predictions and references")
    return predicted, truth


def positions(labels: Array, wanted: Array) -> Array:
    """Index in ``labels`` of each of ``wanted``, -1 where absent."""
    import numpy as np

    if len(labels) == 0:
        return np.full(len(wanted), -1)
    same_family(labels, wanted, "the labels (or classes) and the data")
    order = np.argsort(labels, kind="stable")
    at = np.minimum(np.searchsorted(labels, wanted, sorter=order), len(labels) - 1)
    found = labels[order[at]] == wanted
    return np.where(found, order[at], -1)


def check_inputs(info: MetricInfo, inputs: Mapping[str, Any], required: Iterable[str]) -> None:
    unknown = sorted(set(inputs) - set(info.inputs))
    if unknown:
        raise UsageError(f"{info.id}: unexpected inputs {unknown}; it takes {sorted(info.inputs)}")
    missing = [name for name in required if name not in inputs]
    if missing:
        raise UsageError(f"{info.id}: missing inputs {missing}")
