"""Shared by the wrap tests: wrapping example bundles, a throwaway plugin distribution
whose metrics raise or hang, and running a wrapped bundle as the platform would (with
``use_plugins=False``: the platform knows nothing of aibench, only the wrapped command)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from distkit import install_distribution

from aibench_plugins.run.runner import RunReport, run_bundle
from aibench_plugins.wrap.wrapping import wrap_bundle

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "bundles"
SUBMISSIONS = REPO / "examples" / "submissions"
VENV_BIN = str(Path(sys.executable).parent)

FAULTS_MODULE = '''\
import time

import aibench_plugins


@aibench_plugins.metric(id="acme.raises", direction="maximize")
def raises(*, predictions, references):
    raise RuntimeError("acme.raises always fails")


@aibench_plugins.metric(id="acme.hangs", direction="maximize")
def hangs(*, predictions, references):
    while True:
        time.sleep(1)


@aibench_plugins.metric(id="acme.agreement", direction="maximize", bounds=(0.0, 1.0))
def agreement(*, predictions, references):
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


@aibench_plugins.hookimpl
def aibench_register_metrics(register):
    register(raises)
    register(hangs)
    register(agreement)
'''


def install_faults_plugin(site: Path, sources: Path) -> Path:
    """Build and pip-install ``acme-faults`` into ``site`` (no network)."""
    return install_distribution(site, sources, "acme-faults", {"acme_faults": FAULTS_MODULE}, version="0.3.0")


def bundle_copy(name: str, target: Path) -> Path:
    shutil.copytree(BUNDLES / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target / name


def edit_manifest(bundle: Path, **changes: Any) -> None:
    path = bundle / "aibench.json"
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document, indent=2))


def wrap(bundle: Path, output: Path, **options: Any) -> Path:
    wrap_bundle(bundle, output, **options)
    return output


def run_as_platform(bundle: Path, submission: Path, work: Path, *, platform: str | None = None) -> RunReport:
    """The wrapped bundle run by the local executor, the way a worker runs it: no aibench
    on the host side, a ``python3`` with numpy and pandas on PATH (this venv's)."""
    previous = os.environ["PATH"]
    os.environ["PATH"] = f"{VENV_BIN}:{previous}"
    try:
        return run_bundle(bundle, submission, platform=platform, work_dir=work, ledger_path=work.parent / "ledger.db",
                          use_plugins=False)
    finally:
        os.environ["PATH"] = previous


def scoring_output(report: RunReport) -> Path:
    return next(s.output_dir for s in report.result.steps if s.step == "scoring")


def runtime_report(report: RunReport) -> dict[str, Any]:
    return dict(json.loads((scoring_output(report) / "aibench" / "report.json").read_text()))


def stderr_of_scoring(report: RunReport) -> str:
    step = next(s for s in report.result.steps if s.step == "scoring")
    return step.logs["scoring program stderr"].read_text()
