"""``_aibench/wrap.json``: what ``aibench wrap`` decided for one wrapped program, read by
the runtime when the worker runs it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.errors import RuntimeRecordError

RECORD_NAME = "wrap.json"
RECORD_FORMAT = 1


@dataclass(frozen=True)
class WrapRecord:
    """One wrapped program.

    :param role: ``scoring`` (plugins run after the original command) or ``ingestion``
        (the participant's run is measured).
    :param original_commands: the ``command`` of the program's metadata, as written.
    :param manifest_sha256: hash of ``_aibench/aibench.json``; the runtime refuses another.
    :param manifest_phase: the manifest ``phases`` key that applies to every phase this
        program serves, or ``None``.
    :param predicts: every phase this program serves has a prediction step, so the worker
        wrote ``input/res/metadata`` (v1 scoring-only phases have none).
    :param columns: the bundle's own leaderboard columns (key, title, sorting, precision).
    :param required: the plugins and components the manifest marks required.
    :param vendored: ``{"name", "version"}`` of each distribution copied into ``lib/``.
    :param time_limit_s: the shortest execution time limit of the phases served (v2 capped at
        the default queue's 600 s); the plugins stop within it.
    :param perturbations: an ingestion program's declared input perturbations
        (``PerturbationPlan.to_json()``, :mod:`aibench_plugins.data.perturbations`), which it re-runs
        the original command on; ``None`` when none are declared.
    :param complexity: an ingestion program's complexity plan (``ComplexityPlan.to_json()``,
        :mod:`aibench_plugins.complexity.plan`), which the runtime gives the original command's
        process (``AIBENCH_COMPLEXITY_PLAN``, with its deadline set when it starts); ``None`` when no
        complexity meter runs in the prediction step.
    """

    role: Literal["scoring", "ingestion"]
    bundle_platform: Literal["v1", "v2"]
    original_commands: Sequence[str]
    aibench_version: str
    manifest_sha256: str = ""
    manifest_phase: str | None = None
    predicts: bool = True
    phases: Sequence[Mapping[str, Any]] = ()
    columns: Sequence[Mapping[str, Any]] = ()
    required: Sequence[str] = ()
    vendored: Sequence[Mapping[str, str]] = field(default_factory=list)
    time_limit_s: int = 600
    perturbations: Mapping[str, Any] | None = None
    complexity: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # read by the Python-2-safe bootstrap when the image's Python is too old
        return {"format": RECORD_FORMAT, **data, "required_plugins": list(self.required)}

    @classmethod
    def load(cls, folder: Path) -> WrapRecord:
        return cls.from_bytes((folder / RECORD_NAME).read_bytes())

    def write(self, folder: Path) -> None:
        (folder / RECORD_NAME).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> WrapRecord:
        raw = json.loads(data)
        if raw.get("format") != RECORD_FORMAT:
            raise RuntimeRecordError(f"{RECORD_NAME} has format {raw.get('format')!r}; this version reads {RECORD_FORMAT}")
        raw.pop("format")
        raw.pop("required_plugins", None)
        return cls(**raw)


def find_in_bundle(bundle: Any) -> WrapRecord | None:
    """The record of the first wrapped scoring program of ``bundle`` (a
    ``codalab_worker_compat.Bundle``), or ``None`` when it was not wrapped by ``aibench wrap``."""
    import io
    import zipfile

    for phase in bundle.phases:
        for programs in phase.tasks or (phase.programs,):
            path = programs.get("scoring_program")
            if not path:
                continue
            name = f"{path.rstrip('/')}/_aibench/{RECORD_NAME}"
            if bundle.exists(name):
                return WrapRecord.from_bytes(bundle.read_bytes(name))
            if path.endswith(".zip") and bundle.exists(path):
                try:
                    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes(path))) as archive:
                        member = next((m for m in archive.namelist() if m.endswith(f"_aibench/{RECORD_NAME}")), None)
                        if member is not None:
                            return WrapRecord.from_bytes(archive.read(member))
                except (zipfile.BadZipFile, OSError, KeyError):
                    continue
    return None
