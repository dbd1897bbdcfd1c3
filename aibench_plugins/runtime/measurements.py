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
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from codalab_worker_compat import load_yaml

from ..core.capture import read_head

MEASUREMENTS_FILE = ".aibench_measurements.json"
MeasuredBy = Literal["worker", "executor", "ingestion", "scoring"]
TRUST: dict[str, str] = {
    "worker": "host: the platform's worker, outside the participant's container",
    "executor": "host: the executor that ran the container",
    "ingestion": "inside the participant's container: participant code could forge it",
    "scoring": "the organiser's scoring container, after the participant's run",
}


@dataclass(frozen=True)
class Measurement:
    """One number about a run, with its unit and who measured it."""

    name: str
    value: float
    unit: str
    measured_by: MeasuredBy
    step: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"trust": TRUST[self.measured_by]}


def write_ingestion_measurements(output: Path, *, elapsed_s: float, peak_rss_mb: float, exit_code: int) -> None:
    """What the wrapped ingestion program measured, for the scoring step to read."""
    record = {"measured_by": "ingestion", "wall_time_s": round(elapsed_s, 3), "peak_rss_mb": round(peak_rss_mb, 1),
              "exit_code": exit_code}
    (output / MEASUREMENTS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")


def read_prediction_measurements(predictions: Path, *, trust_worker_metadata: bool) -> list[Measurement]:
    """The measurements of the prediction step found in ``input/res`` (module docstring)."""
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
    ingestion = predictions / MEASUREMENTS_FILE
    if ingestion.is_file():
        try:
            data = json.loads(_small_file(ingestion))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            for key, name, unit in (("wall_time_s", "ingestion wall time", "s"),
                                    ("peak_rss_mb", "peak memory of the participant's run", "MiB")):
                if _finite(data.get(key)):
                    found.append(Measurement(name, float(data[key]), unit, "ingestion", "prediction"))
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
