"""Measurements of a participant's run, each saying who took it.

Participant code is untrusted: a number measured in the container where it runs can be
forged by it. Three sources reach the scoring step of a wrapped bundle:

* ``worker``: ``input/res/metadata``, written by the platform's worker on the host after
  the prediction step (``elapsedTime``, ``exitCode``; §5.8). A v2 worker fails the run when
  the participant wrote that file, so it cannot be forged there; a v1 scoring-only phase
  has no prediction step, and the file is then the participant's own and is not read.
* ``ingestion``: ``input/res/.aibench_measurements.json``, written by the wrapped
  ingestion program in the participant's container: forgeable.
* ``scoring``: the original scoring program's time and memory, measured by the runtime in
  the organiser's scoring container.

Why the ingestion's file travels in ``input/res``: it is the only way from the prediction step to
the scoring step on every worker. A v2 worker zips the whole of ``/app/output`` and unzips it as
``/app/input/res`` of scoring; ``/app/shared`` is not mounted during prediction and the program
folders are not carried over (``docs/codalab-contract.md`` §5.3, §5.8). A v1 worker uploads
``output/`` as the result that becomes ``input/res``, and ``output/private/`` goes to
``private_output``, which the scoring step never receives (§4.8). The worker's own
``output/metadata`` cannot carry it either: v2 fails a run that wrote it (§5.8).

So the file is made impossible to confuse with a participant's: a name of aibench's, and a content
that says what it is and carries the wrapped manifest's sha256 (``written_by``,
``manifest_sha256``). The scoring runtime takes it (:func:`take_ingestion_measurements`): it reads
it and removes it from ``input/res`` **before the original scoring program starts**, so a scorer
that lists ``input/res`` sees what it would see unwrapped. Both v1 and the v2 workers mount
``input/`` writable; where it is read-only (compat's hardened executors), the file stays, the
runtime says so on the log, and the checks and metrics still never see it. A file of that name
that is not the ingestion's (a participant's, in a result submission) is left where it is, unread.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from codalab_worker_compat import load_yaml

from ..components.complexity import Measurement
from ..core.capture import read_head
from .ingest import MEASUREMENTS_FILE, WRITTEN_BY, write_ingestion_measurements

__all__ = ["MEASUREMENTS_FILE", "WRITTEN_BY", "IngestionFile", "Measurement", "read_prediction_measurements",
           "take_ingestion_measurements", "write_ingestion_measurements"]

@dataclass(frozen=True)
class IngestionFile:
    """What :func:`take_ingestion_measurements` found: the measurements, whether the file there is
    the ingestion's (``ours``), and, when it stays in ``input/res``, why (``kept``)."""

    measurements: list[Measurement]
    ours: bool = False
    kept: str | None = None


def take_ingestion_measurements(predictions: Path, manifest_sha256: str) -> IngestionFile:
    """Read the wrapped ingestion's file in ``input/res`` and remove it (module docstring); a file
    of that name that is not the ingestion's of this manifest is neither read nor removed."""
    path = predictions / MEASUREMENTS_FILE
    if path.is_symlink() or not path.is_file():
        return IngestionFile([])
    try:
        data = json.loads(_small_file(path))
    except (OSError, ValueError):
        data = None
    if not (isinstance(data, dict) and data.get("written_by") == WRITTEN_BY
            and data.get("manifest_sha256") == manifest_sha256):
        return IngestionFile([])
    found = [Measurement(name, float(data[key]), unit, "ingestion", "prediction")
             for key, name, unit in (("wall_time_s", "ingestion wall time", "s"),
                                     ("peak_rss_mb", "peak memory of the participant's run", "MiB"))
             if _finite(data.get(key))]
    try:
        path.unlink()
    except OSError as error:
        return IngestionFile(found, True, f"{MEASUREMENTS_FILE} stays in input/res, where the scoring program can "
                                          f"see it: {error.strerror or error} (the folder is read-only here)")
    return IngestionFile(found, True)


def read_prediction_measurements(predictions: Path, *, trust_worker_metadata: bool) -> list[Measurement]:
    """The worker's measurements of the prediction step, from ``input/res/metadata`` (module docstring)."""
    found: list[Measurement] = []
    metadata = predictions / "metadata"
    if trust_worker_metadata and metadata.is_file():
        try:
            data = load_yaml(_small_file(metadata).decode("utf-8", errors="replace"), yaml.SafeLoader)  # alias bombs refused
        except (OSError, ValueError, yaml.YAMLError):
            data = None
        if isinstance(data, dict):
            for key, name in (("elapsedTime", "participant program wall time"),
                              ("ingestionElapsedTime", "ingestion program wall time")):
                if _finite(data.get(key)):
                    found.append(Measurement(name, float(data[key]), "s", "worker", "prediction"))
    return found


#: the most of a measurements file read: the worker's and the ingestion's are a few lines; a
#: participant's process may leave a huge one in its output
MAX_MEASUREMENTS_BYTES = 64 * 1024


def _small_file(path: Path) -> bytes:
    """The file's bytes. :raises ValueError: when it is larger than :data:`MAX_MEASUREMENTS_BYTES`
    (it is not read)."""
    data, more = read_head(path, MAX_MEASUREMENTS_BYTES)
    if more:
        raise ValueError(f"{path.name} is larger than {MAX_MEASUREMENTS_BYTES} bytes")
    return data


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
