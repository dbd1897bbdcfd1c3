"""The gateway's settings from the manifest's ``submissions`` section (``schemas/aibench-manifest.schema.json``
says what each field means; the schema and :mod:`aibench_plugins.manifest.loading` have checked it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .types import Deadlines, GatewaySettings, SubmissionKind, TableColumns

__all__ = ["gateway_settings"]


def gateway_settings(section: Mapping[str, Any], predictions: Any = None, *,
                     time_limit_s: float | None = None) -> GatewaySettings:
    """The settings of a validated ``submissions`` section. ``predictions`` is the manifest's
    ``data.predictions`` table (a :class:`~aibench_plugins.manifest.plan.TableDecl`), used when the
    section names none. ``time_limit_s`` (the phase's execution time limit) bounds the total budget."""
    inputs = section["inputs"]
    written = section.get("predictions")
    if written is not None:
        target = TableColumns(str(written["file"]), str(written.get("id", "id")), tuple(written["columns"]))
    else:
        target = TableColumns(str(predictions.file), str(predictions.id), tuple(predictions.columns))
    given = dict(section.get("deadlines") or {})
    deadlines = Deadlines(**{k: float(v) for k, v in given.items()})
    if time_limit_s is not None and time_limit_s < deadlines.total_s:
        deadlines = Deadlines(deadlines.ready_s, deadlines.first_request_s, deadlines.request_s, float(time_limit_s))
    accept: frozenset[SubmissionKind] = frozenset(section.get("accept") or ("endpoint", "serving_image"))
    return GatewaySettings(
        inputs=TableColumns(str(inputs["file"]), str(inputs.get("id", "id")), tuple(inputs.get("columns") or ())),
        predictions=target, accept=accept, batch_size=int(section.get("batch_size", 32)), deadlines=deadlines,
        max_response_bytes=int(float(section.get("max_response_mb", 16)) * (1 << 20)),
        retries=int(section.get("retries", 2)))
