"""The wrapped ingestion program's runtime: ``run.py ingest OUTPUT [INPUT] -- COMMAND``.

It runs the original ingestion command unchanged (:mod:`.child`) and writes what it measured
of the participant's run (time, peak memory, exit status) to ``OUTPUT/.aibench_measurements.json``
for the wrapped scoring program, which takes the file out of ``input/res`` before the original
scorer starts (:mod:`.measurements` says why the file travels there and how it is told from a
participant's). When the manifest declares input perturbations (``wrap.json``'s ``perturbations``;
``aibench wrap`` then passes ``INPUT``, the command's ``$input``), the command is run again once
per perturbation after it succeeded (:mod:`.perturbed_runs`, which alone imports numpy). When
complexity meters run in the prediction step (``wrap.json``'s ``complexity``), the original command
gets the plan in its environment (``AIBENCH_COMPLEXITY_PLAN``, its deadline the phase's time limit
from now, less a margin) and this lib on its ``PYTHONPATH``, so that the organiser's ingestion
program can ``import aibench_plugins.complexity`` and call ``measure`` (the lib then holds
:data:`COMPLEXITY_MODULES`, the complexity room and the named meters' modules); the perturbed
re-runs get neither (they measure nothing).

The prediction step is on every submission's critical path, so this module imports the
standard library and :data:`MODULES` only: no plugin, no YAML, no numpy. An ingestion program
is wrapped with a ``lib.zip`` of just these files (:func:`aibench_plugins.wrap.vendor.vendor_ingestion`),
a few kilobytes that the worker unpacks and Python imports in milliseconds;
tests/wrap/test_vendor.py checks that they are all it imports.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from ..manifest.wraprecord import WrapRecord
from .child import run_original, say

#: The files of aibench_plugins this module imports (relative to the package), and so all an
#: ingestion program's ``_aibench/lib.zip`` holds.
MODULES = ("__init__.py", "_version.py", "core/__init__.py", "core/errors.py", "core/lifetime.py",
           "manifest/__init__.py", "manifest/wraprecord.py", "runtime/__init__.py", "runtime/child.py",
           "runtime/ingest.py")
#: what the ingestion lib holds more when the manifest declares input perturbations: what
#: :mod:`.perturbed_runs` imports beyond :data:`MODULES` (tests/wrap/test_vendor.py checks both)
PERTURBATION_MODULES = ("core/problems.py", "data/__init__.py", "data/align.py", "data/arrow_csv.py", "data/delimited.py",
                        "data/formats.py", "data/groups.py",
                        "data/perturbations/__init__.py", "data/perturbations/files.py", "data/perturbations/images.py",
                        "data/perturbations/seeding.py", "data/perturbations/spec.py", "data/perturbations/tabular.py",
                        "data/perturbations/text.py", "data/placement.py", "data/readers.py", "data/rows.py",
                        "data/tables.py", "data/views.py", "runtime/perturbed_runs.py")
#: what the ingestion lib holds more when complexity meters run in the prediction step: what
#: ``aibench_plugins.complexity.measure`` imports beyond :data:`MODULES` (tests/wrap/test_vendor.py
#: checks it); the lib also holds the whole complexity room and the meters' modules
#: (:func:`aibench_plugins.wrap.vendor.vendor_ingestion`)
COMPLEXITY_MODULES = ("complexity/__init__.py", "complexity/file.py", "complexity/measure.py", "complexity/plan.py",
                      "components/__init__.py", "components/analysis.py", "components/complexity.py",
                      "core/kinds.py")
#: the variable the complexity plan is given in (``aibench_plugins.complexity.plan.PLAN_ENV``)
PLAN_ENV = "AIBENCH_COMPLEXITY_PLAN"
#: seconds of the phase's time limit the complexity meters leave unused
PLAN_MARGIN_S = 5.0
MEASUREMENTS_FILE = ".aibench_measurements.json"
#: ``written_by`` of the ingestion's file: what it is, for whoever opens it
WRITTEN_BY = ("aibench wrapped ingestion program: measurements of the participant's run for the wrapped "
              "scoring program, which removes this file before the original scoring program starts; not a "
              "participant's file")


def run(argv: Sequence[str], home: str) -> int:
    """``argv`` after ``run.py``: ``ingest OUTPUT -- COMMAND...``; ``home`` is the ``_aibench`` folder."""
    split = list(argv).index("--")
    head, command = list(argv[:split]), list(argv[split + 1:])
    if head[:1] != ["ingest"] or len(head) not in (2, 3):
        say(f"usage: run.py ingest OUTPUT [INPUT] -- COMMAND... (got {head})")
        return 2
    return ingest(Path(home), Path(head[1]), command, Path(head[2]) if len(head) == 3 else None)


def ingest(home: Path, output: Path, command: list[str], inputs: Path | None = None) -> int:
    """Run ``command`` and record its measurements in ``output``; its exit status is returned
    unchanged, and a measurement (or a perturbed re-run) that fails never changes the run's outcome."""
    started = time.monotonic()
    record, unread = None, None
    try:
        record = WrapRecord.load(home)
    except Exception as error:  # noqa: BLE001 - the original still runs, unmeasured (said below)
        unread = error
    child = run_original(command, _child_env(home, record))
    if child.message:
        say(child.message)
    try:
        if record is None:
            raise unread or FileNotFoundError(home / "wrap.json")
        write_ingestion_measurements(output, manifest_sha256=record.manifest_sha256,
                                     elapsed_s=child.elapsed_s, peak_rss_mb=child.peak_rss_mb,
                                     exit_code=child.exit_code)
    except Exception as error:  # noqa: BLE001 - the measurements never change the run's outcome
        say(f"could not record the run's measurements: {type(error).__name__}: {error}")
    if record is not None and record.perturbations and inputs is not None and child.exit_code == 0:
        try:
            # imported by name: the ingestion's lib holds these modules only when perturbations are
            # declared (PERTURBATION_MODULES), and nothing else of the prediction step needs numpy
            runs = importlib.import_module("aibench_plugins.runtime.perturbed_runs")
            runs.run_perturbed(record.perturbations, record.manifest_sha256, inputs, output, command,
                               started + record.time_limit_s - runs.MARGIN_S)
        except Exception as error:  # noqa: BLE001 - the original run's outcome stands
            say(f"the perturbed re-runs could not run: {type(error).__name__}: {error}")
    return child.exit_code


def _child_env(home: Path, record: WrapRecord | None) -> dict[str, str] | None:
    """The original command's environment: this process's, with the complexity plan and this lib
    on ``PYTHONPATH`` when complexity meters run in the prediction step (``None``: unchanged)."""
    if record is None or not record.complexity:
        return None
    plan = {**record.complexity, "deadline_unix": time.time() + record.time_limit_s - PLAN_MARGIN_S}
    packed = home / "lib.zip"
    lib = str(packed if packed.is_file() else home / "lib")
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, PLAN_ENV: json.dumps(plan, separators=(",", ":")),
            "PYTHONPATH": lib + (os.pathsep + path if path else "")}


def write_ingestion_measurements(output: Path, *, manifest_sha256: str, elapsed_s: float, peak_rss_mb: float,
                                 exit_code: int) -> None:
    """What the wrapped ingestion program measured, for the scoring step to take."""
    record = {"written_by": WRITTEN_BY, "manifest_sha256": manifest_sha256, "measured_by": "ingestion",
              "wall_time_s": round(elapsed_s, 3), "peak_rss_mb": round(peak_rss_mb, 1), "exit_code": exit_code}
    (output / MEASUREMENTS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
