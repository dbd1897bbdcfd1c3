"""The report document, ``report.json``: one shape, one versioned JSON Schema
(``schemas/aibench-report.schema.json``), written by both paths.

``aibench run`` writes it to ``<run folder>/report.json`` and embeds it under ``report`` in
``aibench run --json``; a wrapped bundle's runtime writes it to ``output/aibench/report.json``.
The plugin part (``plugin_columns``, ``plugin_failures``, ``check_problems``, ``analyses``,
``complexity``) is the
evaluation session's result, identical on both paths for the same submission; what only one
path knows goes under ``run`` (the host: run id, executor, steps) or ``wrapped`` (the worker:
the original command, the runtime, the merge into the scores file). Reporters and the
detailed results page read only this document. See ``docs/report.md``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .session import Evaluation

__all__ = ["REPORT_FILE", "REPORT_VERSION", "SCHEMA_FILE", "report_document", "report_problems", "report_schema"]

REPORT_VERSION = 1
REPORT_FILE = "report.json"
SCHEMA_FILE = "aibench-report.schema.json"
Producer = Literal["aibench run", "wrapped runtime"]


def report_document(*, producer: Producer, status: str, message: str, platform: str | None,
                    phase: Mapping[str, Any], manifest_sha256: str | None, columns: Sequence[Mapping[str, Any]],
                    evaluation: Evaluation | None, measurements: Sequence[Mapping[str, Any]] = (),
                    concepts: Sequence[Mapping[str, Any]] = (), plugin_output: Mapping[str, Any] | None = None,
                    run: Mapping[str, Any] | None = None, wrapped: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report document of one submission (the schema's shape; see the module docstring)."""
    plugins = evaluation.to_json() if evaluation is not None else {
        "plugin_columns": [], "plugin_failures": [], "check_problems": [], "analyses": [], "complexity": None}
    document: dict[str, Any] = {
        "report_version": REPORT_VERSION, "producer": producer, "status": status, "message": message,
        "platform": platform, "phase": {"number": phase.get("number"), "name": phase.get("name")},
        "manifest_sha256": manifest_sha256, "columns": [dict(c) for c in columns], **plugins,
        "measurements": [dict(m) for m in measurements], "concepts": [dict(c) for c in concepts],
    }
    if plugin_output is not None:
        document["plugin_output"] = dict(plugin_output)
    if run is not None:
        document["run"] = dict(run)
    if wrapped is not None:
        document["wrapped"] = dict(wrapped)
    return document


def plugin_results(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a report both paths must give identically for the same submission: the
    plugin columns (values and provenance) and failures (without the host's or worker's
    wording of where they ran, nor the tracebacks, whose file paths differ), the check problems
    and the analyses."""
    failures = [{k: v for k, v in f.items() if k != "traceback"} for f in document["plugin_failures"]]
    return {"plugin_columns": document["plugin_columns"], "plugin_failures": failures,
            "check_problems": document["check_problems"], "analyses": document.get("analyses", [])}


@functools.cache
def _schema_text() -> str:
    from importlib.resources import files

    # a resource, not a path: in a wrapped bundle the package is imported from _aibench/lib.zip
    return files("aibench_plugins").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")


def report_schema() -> dict[str, Any]:
    """The report schema as shipped (a fresh copy)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def report_problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the report schema (``"<pointer>: <message>"``); empty when valid.
    Needs jsonschema_rs (the host's; the wrapped runtime does not validate)."""
    import jsonschema_rs

    validator = jsonschema_rs.Draft202012Validator(report_schema())
    return [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(document)]
