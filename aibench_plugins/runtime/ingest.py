"""The wrapped ingestion program's runtime: ``run.py ingest OUTPUT -- COMMAND``.

It runs the original ingestion command unchanged (:mod:`.child`) and writes what it measured
of the participant's run (time, peak memory, exit status) to ``OUTPUT/.aibench_measurements.json``
for the wrapped scoring program, which takes the file out of ``input/res`` before the original
scorer starts (:mod:`.measurements` says why the file travels there and how it is told from a
participant's).

The prediction step is on every submission's critical path, so this module imports the
standard library and :data:`MODULES` only: no plugin, no YAML, no numpy. An ingestion program
is wrapped with a ``lib.zip`` of just these files (:func:`aibench_plugins.wrap.vendor.vendor_ingestion`),
a few kilobytes that the worker unpacks and Python imports in milliseconds;
tests/wrap/test_vendor.py checks that they are all it imports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..manifest.wraprecord import WrapRecord
from .child import run_original, say

#: The files of aibench_plugins this module imports (relative to the package), and so all an
#: ingestion program's ``_aibench/lib.zip`` holds.
MODULES = ("__init__.py", "_version.py", "core/__init__.py", "core/errors.py", "core/lifetime.py",
           "manifest/__init__.py", "manifest/wraprecord.py", "runtime/__init__.py", "runtime/child.py",
           "runtime/ingest.py")
MEASUREMENTS_FILE = ".aibench_measurements.json"
#: ``written_by`` of the ingestion's file: what it is, for whoever opens it
WRITTEN_BY = ("aibench wrapped ingestion program: measurements of the participant's run for the wrapped "
              "scoring program, which removes this file before the original scoring program starts; not a "
              "participant's file")


def run(argv: Sequence[str], home: str) -> int:
    """``argv`` after ``run.py``: ``ingest OUTPUT -- COMMAND...``; ``home`` is the ``_aibench`` folder."""
    split = list(argv).index("--")
    head, command = list(argv[:split]), list(argv[split + 1:])
    if head[:1] != ["ingest"] or len(head) != 2:
        say(f"usage: run.py ingest OUTPUT -- COMMAND... (got {head})")
        return 2
    return ingest(Path(home), Path(head[1]), command)


def ingest(home: Path, output: Path, command: list[str]) -> int:
    """Run ``command`` and record its measurements in ``output``; its exit status is returned
    unchanged, and a measurement that cannot be written never changes the run's outcome."""
    child = run_original(command)
    if child.message:
        say(child.message)
    try:
        write_ingestion_measurements(output, manifest_sha256=WrapRecord.load(home).manifest_sha256,
                                     elapsed_s=child.elapsed_s, peak_rss_mb=child.peak_rss_mb,
                                     exit_code=child.exit_code)
    except Exception as error:  # noqa: BLE001 - the measurements never change the run's outcome
        say(f"could not record the run's measurements: {type(error).__name__}: {error}")
    return child.exit_code


def write_ingestion_measurements(output: Path, *, manifest_sha256: str, elapsed_s: float, peak_rss_mb: float,
                                 exit_code: int) -> None:
    """What the wrapped ingestion program measured, for the scoring step to take."""
    record = {"written_by": WRITTEN_BY, "manifest_sha256": manifest_sha256, "measured_by": "ingestion",
              "wall_time_s": round(elapsed_s, 3), "peak_rss_mb": round(peak_rss_mb, 1), "exit_code": exit_code}
    (output / MEASUREMENTS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
