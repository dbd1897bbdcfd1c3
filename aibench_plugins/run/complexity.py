"""``aibench run``: the complexity meters of the prediction step, for a bundle that is not wrapped.

When the phase's complexity entries name a meter that runs in the prediction step, the host gives
the ingestion program's process what a wrapped ingestion program gives it
(:mod:`aibench_plugins.runtime.ingest`): the plan in ``AIBENCH_COMPLEXITY_PLAN`` (its deadline the
phase's time limit from the start of the run, less a margin) and, first on its ``PYTHONPATH``, a
``lib.zip`` with what ``import aibench_plugins.complexity`` needs and the meters' modules
(:func:`aibench_plugins.runtime.lib.vendor_ingestion`), written into the run's copy of the
ingestion program (``_aibench/lib.zip``, as ``aibench wrap`` does), so that it is there under every
executor, in a container too. Once the prediction step ended, ``.aibench_complexity.json`` is taken
out of its output before the scoring step receives it (the original scoring program never sees
it), kept as ``<run folder>/aibench/complexity.json``, and becomes the session's ``complexity_file``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..complexity.file import take_complexity_file
from ..complexity.plan import PLAN_ENV, ComplexityPlan
from ..evaluation.complexity_plan import complexity_plan, meter_modules

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle

    from ..evaluation.session import EvaluationSession

__all__ = ["LIB_PATH", "PredictionMeters", "prediction_meters"]

#: where the lib goes in the run's copy of the ingestion program
LIB_PATH = "_aibench/lib.zip"
#: compat's copy of the phase's ingestion program (``run_submission`` unpacks it there)
INGESTION_COPY = Path("bundle") / "ingestion_program"
V2_MAX_TIME_LIMIT = 600


class PredictionMeters:
    """The complexity meters of one run's prediction step (module docstring)."""

    def __init__(self, session: EvaluationSession, plan: ComplexityPlan, work: Path) -> None:
        self.session, self.plan, self.work = session, plan, work
        self.warnings: list[str] = []

    def ingestion_env(self) -> dict[str, str]:
        """The ingestion program's environment more: the plan, started now, and the lib."""
        return {PLAN_ENV: self.plan.started().to_env(), "PYTHONPATH": f"$ingestion_program/{LIB_PATH}"}

    def before_run(self, checks: Callable[[Path, Path | None], str | None] | None
                   ) -> Callable[[Path, Path | None], str | None]:
        """compat's ``before_run``: the lib into the ingestion program's copy, then ``checks``."""

        def before(submission: Path, reference: Path | None) -> str | None:
            from ..core.errors import VendorError

            try:
                self.install_lib(self.work / INGESTION_COPY)
            except (VendorError, OSError) as error:
                return (f"the complexity meters cannot run in the prediction step: {error}. Organiser: install what "
                        "the meters need where aibench runs, or remove the entries")
            return checks(submission, reference) if checks is not None else None

        return before

    def install_lib(self, program: Path) -> None:
        """Write ``program/_aibench/lib.zip`` (module docstring)."""
        from ..runtime.lib import compile_lib, vendor_ingestion, zip_lib

        target = program / LIB_PATH
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="aibench-complexity-lib-") as scratch:
            lib = Path(scratch) / "lib"
            vendor_ingestion(lib, meters=meter_modules(self.plan),
                             uses=sorted({e.use for e in self.plan.prediction_entries}))
            compile_lib(lib)  # zipimport never writes bytecode: compiled once here, not in every step
            zip_lib(lib, target)

    def after_prediction(self, output: Path) -> None:
        """compat's ``after_prediction``: the file out of the prediction output, into the session."""
        found, note = take_complexity_file(output, self.plan.manifest_sha256)
        if note:
            self.warnings.append(f"complexity meters: {note.replace('input/res/', 'the prediction output: ')}")
        if found is None:
            return
        self.session.complexity_file = found
        kept = self.work / "aibench" / "complexity.json"
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps(found.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            self.warnings.append(f"complexity meters: {kept} could not be written: {error}")


def prediction_meters(session: EvaluationSession | None, bundle: Bundle, phase: int | None, work: Path,
                      own_time_limit_s: float | None = None) -> PredictionMeters | None:
    """The run's prediction-side meters, or ``None`` when none runs (no session, no such entry)."""
    if session is None:
        return None
    chosen = next((p for p in bundle.phases if phase is None or p.number == phase), None)
    limit = float(chosen.execution_time_limit or V2_MAX_TIME_LIMIT) if chosen is not None else V2_MAX_TIME_LIMIT
    if bundle.platform != "v1":
        limit = min(limit, V2_MAX_TIME_LIMIT)
    if own_time_limit_s is not None:
        limit = min(limit, float(own_time_limit_s))
    plan = complexity_plan(session.manifest, session.host, session.plan.phase_key, limit)
    if plan is None:
        return None
    return PredictionMeters(session, plan, work)
