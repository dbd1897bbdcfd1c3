"""``OUTPUT/.aibench_complexity.json``: what the complexity meters measured in the prediction step,
for the scoring side.

:func:`aibench_plugins.complexity.measure` (and ``measure_block``) write it into the prediction
step's output folder (:func:`write_complexity_file`); it travels to the scoring step in
``input/res``, as the wrapped ingestion's measurements file does (the only way from one step to
the other on every worker: :mod:`aibench_plugins.runtime.measurements` says why). The scoring side
takes it (:func:`take_complexity_file`): reads it and removes it from ``input/res`` **before the
original scoring program starts**, so that a scorer listing ``input/res`` sees what it would see
unwrapped; ``aibench run`` takes it out of the prediction output before the scoring step receives it.

The format::

    {"written_by": WRITTEN_BY, "manifest_sha256": "<sha256 of aibench.json>",
     "hardware": Hardware.to_json(),
     "entries": [{"key": "<entry key>", "use": "<meter id>", "result": ComplexityResult.to_json() | null,
                  "error": "<why it failed>" | null, "elapsed_s": 0.12, "block": "<name>" | null}]}

``written_by`` and the manifest's sha256 tell it from a participant's file of the same name: a
file that is not ours for this manifest is neither read nor removed. It is still written inside
the participant's container (participant code could forge it): every measurement read back is
``measured_by="ingestion"``, ``step="prediction"``, whatever the file says. The file is bounded
(:data:`MAX_COMPLEXITY_BYTES`): a larger one is not read.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..components.complexity import ComplexityResult, Hardware

__all__ = ["COMPLEXITY_FILE", "MAX_COMPLEXITY_BYTES", "WRITTEN_BY", "ComplexityFile", "EntryRecord",
           "read_complexity_file", "take_complexity_file", "write_complexity_file"]

COMPLEXITY_FILE = ".aibench_complexity.json"
#: ``written_by`` of the file: what it is, for whoever opens it
WRITTEN_BY = ("aibench_plugins.complexity.measure in the prediction step: the complexity meters' measurements for "
              "the scoring step, which removes this file before the original scoring program starts; not a "
              "participant's file")
#: the most of the file read: measurements, a few tables and notes per meter
MAX_COMPLEXITY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class EntryRecord:
    """What one entry of the manifest's ``complexity`` section gave in the prediction step.

    :param key: the entry's key; ``use``: the meter's id.
    :param result: its measurements, or ``None`` when it failed (``error`` says why).
    :param elapsed_s: how long the meter ran.
    :param block: the name of the ``measure_block`` window it measured (``None``: a ``measure`` call).
    """

    key: str
    use: str
    result: ComplexityResult | None
    error: str | None = None
    elapsed_s: float = 0.0
    block: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "use": self.use, "result": self.result.to_json() if self.result is not None else None,
                "error": self.error, "elapsed_s": round(self.elapsed_s, 6), "block": self.block}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntryRecord:
        result = data.get("result")
        elapsed = data.get("elapsed_s")
        return cls(str(data["key"]), str(data["use"]),
                   ComplexityResult.from_json(result) if isinstance(result, Mapping) else None,
                   str(data["error"]) if data.get("error") is not None else None,
                   float(elapsed) if isinstance(elapsed, (int, float)) and _finite(elapsed) else 0.0,
                   str(data["block"]) if data.get("block") is not None else None)


@dataclass(frozen=True)
class ComplexityFile:
    """The file as the scoring side reads it (``kept``: why it stays in ``input/res``, when it does)."""

    manifest_sha256: str
    hardware: Hardware
    entries: tuple[EntryRecord, ...] = ()
    kept: str | None = None

    def entry(self, key: str) -> EntryRecord | None:
        """The record of the entry ``key``, or ``None`` when the prediction step did not measure it."""
        return next((e for e in self.entries if e.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {"written_by": WRITTEN_BY, "manifest_sha256": self.manifest_sha256, "hardware": self.hardware.to_json(),
                "entries": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComplexityFile:
        hardware = data.get("hardware")
        entries = data.get("entries")
        return cls(str(data.get("manifest_sha256", "")),
                   Hardware.from_json(hardware) if isinstance(hardware, Mapping) else Hardware(),
                   tuple(EntryRecord.from_json(e) for e in entries if isinstance(e, Mapping))
                   if isinstance(entries, list) else ())


def write_complexity_file(output: Path, manifest_sha256: str, hardware: Hardware,
                          entries: Sequence[EntryRecord]) -> Path:
    """Write (or add to) ``output/.aibench_complexity.json``: an entry measured again replaces its
    earlier record (same key and block), others already in the file are kept, so an ingestion
    program may call ``measure`` and ``measure_block`` in turn. Written whole, then renamed."""
    path = Path(output) / COMPLEXITY_FILE
    earlier = read_complexity_file(path, manifest_sha256)
    new = {(e.key, e.block) for e in entries}
    kept = [e for e in earlier.entries if (e.key, e.block) not in new] if earlier is not None else []
    document = ComplexityFile(manifest_sha256, hardware, (*kept, *entries)).to_json()
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, default=_jsonable) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def read_complexity_file(path: Path, manifest_sha256: str) -> ComplexityFile | None:
    """The file at ``path`` when it is ours for this manifest (module docstring), else ``None``
    (absent, a link, too large, not JSON, or not written by ``measure`` for ``manifest_sha256``).
    Every measurement read is ``measured_by="ingestion"`` and ``step="prediction"``."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_COMPLEXITY_BYTES + 1)
        if len(data) > MAX_COMPLEXITY_BYTES:
            return None
        document = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(document, dict) and document.get("written_by") == WRITTEN_BY
            and document.get("manifest_sha256") == manifest_sha256):
        return None
    try:
        found = ComplexityFile.from_json(document)
    except (KeyError, TypeError, ValueError):
        return None
    return replace(found, entries=tuple(_as_ingestion(e) for e in found.entries))


def take_complexity_file(predictions: Path, manifest_sha256: str) -> tuple[ComplexityFile | None, str | None]:
    """Read ``predictions/.aibench_complexity.json`` (``input/res``, or ``aibench run``'s prediction
    output) and remove it; and a sentence for the log when something stays or is not ours. A file of
    that name that is not ours for this manifest is neither read nor removed."""
    path = Path(predictions) / COMPLEXITY_FILE
    if not os.path.lexists(path):
        return None, None
    found = read_complexity_file(path, manifest_sha256)
    if found is None:
        return None, (f"input/res/{COMPLEXITY_FILE} is not the prediction step's (not written by "
                      "aibench_plugins.complexity.measure for this manifest): left where it is, unread")
    try:
        path.unlink()
    except OSError as error:
        note = (f"{COMPLEXITY_FILE} stays in input/res, where the scoring program can see it: "
                f"{error.strerror or error} (the folder is read-only here)")
        return replace(found, kept=note), note
    return found, None


def _as_ingestion(entry: EntryRecord) -> EntryRecord:
    """The entry with every measurement said to be the ingestion's, in the prediction step: the file
    was written in the participant's container, whatever it claims."""
    if entry.result is None:
        return entry
    measurements = tuple(replace(m, measured_by="ingestion", step="prediction") for m in entry.result.measurements)
    return replace(entry, result=replace(entry.result, measurements=measurements))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot write itself: numpy and torch scalars, tuples' items, paths."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)
