"""The catalogue of components (``core/catalog.py``) and ``component_description``: the one
description text of a component, its params with defaults, the nearest ids of an unknown one
(issue 11, item 17)."""

from __future__ import annotations

from typing import Any

from aibench_plugins import MetricInfo, check, metric
from aibench_plugins.core.catalog import catalog, nearest_ids, params_of
from aibench_plugins.core.host import PluginHost
from aibench_plugins.core.registry import component_description, first_paragraph


@metric(id="cat.hits", direction="maximize", bounds=(0.0, 1.0),
        params_schema={"type": "object", "additionalProperties": False,
                       "properties": {"scale": {"type": "number", "description": "Multiply by it."}}})
def hits(*, predictions: Any, references: Any, scale: float = 1.0) -> float:
    """Share of hits,
    over every sample.

    Not this paragraph.
    """
    return scale * sum(p == r for p, r in zip(predictions, references)) / len(references)


class Stateful:
    """Counts of hits.

    Details for readers of the code.
    """

    info = MetricInfo(id="cat.stateful", direction="minimize")


class Described:
    """Not shown: the info's description wins."""

    info = MetricInfo(id="cat.described", direction="minimize", description="  What   the info says. ")


class Instance:
    """The class of an instance without a description: not the component's text."""

    info = MetricInfo(id="cat.instance", direction="minimize")


def test_component_description_is_the_first_paragraph_of_the_docstring() -> None:
    assert component_description(hits) == "Share of hits, over every sample."
    assert component_description(Stateful) == "Counts of hits."
    assert component_description(Described) == "What the info says."
    assert component_description(Instance()) == ""
    assert first_paragraph(None) == "" and first_paragraph("\n   \n") == ""


def test_params_take_the_schemas_default_else_the_functions_keyword_default() -> None:
    [scale] = params_of(hits.info.params_schema, {"scale": 1.0})
    assert (scale.name, scale.type, scale.required, scale.default, scale.default_text) == (
        "scale", "number", False, 1.0, "1.0")
    [files] = params_of({"type": "object", "required": ["files"],
                         "properties": {"files": {"type": "array", "items": {"type": "string"}}}})
    assert (files.type, files.has_default, files.default_text) == ("array of string", False, "(required)")


def test_the_catalogue_describes_every_registered_component() -> None:
    host = PluginHost(strict=True)
    host.load_builtins()
    summaries = {s.id: s for s in catalog(host)}
    f1 = summaries["aibench.f1"]
    assert (f1.kind, f1.plugin, f1.distribution, f1.direction, f1.bounds) == (
        "metric", "aibench.classification", "aibench-plugins", "maximize", (0.0, 1.0))
    assert {p.name: p.default for p in f1.params}["average"] == "macro"
    assert summaries["aibench.size_limit"].direction is None
    assert f1.to_json()["bounds"] == [0.0, 1.0]


def test_nearest_ids_put_the_likeliest_first() -> None:
    ids = ["aibench.log_loss", "aibench.hamming_loss", "aibench.accuracy", "aibench.balanced_accuracy"]
    assert nearest_ids("aibench.logloss", ids)[0] == "aibench.log_loss"
    assert nearest_ids("accuracy", ids)[:2] == ["aibench.accuracy", "aibench.balanced_accuracy"]
    assert nearest_ids("zzz", ids) == []


def test_a_check_function_docstring_is_its_description() -> None:
    @check(id="cat.nothing")
    def nothing(submission: Any) -> list[Any]:
        """Finds nothing.

        Ever.
        """
        return []

    assert component_description(nothing) == "Finds nothing."
