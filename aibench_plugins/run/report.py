"""What ``aibench run`` gives back: :class:`RunReport`, the run's record, its leaderboard row,
where its outputs and logs are, and the report document (``report.json``) it writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation.session import Evaluation

__all__ = ["HOST_ONLY", "REPORT_VERSION", "RunReport"]

REPORT_VERSION = 1
#: the keys of ``aibench run --json`` that only the host knows: the report document's ``run``
HOST_ONLY = ("run_id", "time_limit_s", "scores_file", "steps", "work_dir", "detailed_results", "participant_page",
             "isolation", "executor", "bundle_image", "interpreters", "limits", "explanations", "rules_applied",
             "warnings", "errors", "reproducibility", "gateway")


@dataclass
class RunReport:
    """What ``aibench run`` prints: the run's record, its leaderboard row and where its
    outputs and logs are."""

    run_id: str
    result: Any  # codalab_worker_compat.RunResult
    columns: list[dict[str, Any]]
    work_dir: Path
    isolation: str
    evaluation: Evaluation | None = None
    manifest_sha256: str | None = None
    detailed_results: Path | None = None
    executor: dict[str, Any] = field(default_factory=lambda: {"executor": "local"})
    explanations: list[str] = field(default_factory=list)
    #: stages after the executor that failed ("<stage> failed: <error>"), and the record's own failure
    errors: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    record_error: str | None = None
    #: the plugins' output: {"log": path, "bytes": n, "cut_bytes": n, "tail": the last 2 KiB}
    plugin_output: dict[str, Any] = field(default_factory=dict)
    #: the run's limits and where each came from (``EffectiveLimits.to_json``)
    limits: dict[str, Any] = field(default_factory=dict)
    #: the manifest's concepts, shown on the page
    concepts: list[Any] = field(default_factory=list)
    #: the image the bundle names (``BundleImage.to_json``)
    bundle_image: dict[str, Any] = field(default_factory=dict)
    #: process name -> the interpreter that ran it (the executor's ``interpreters()``)
    interpreters: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the page a participant would see on the platform, and in words which and why
    participant_page: Path | None = None
    participant_page_note: str = ""
    #: what ``aibench rerun`` needs to run it again (:mod:`aibench_plugins.run.reproducibility`)
    reproducibility: dict[str, Any] = field(default_factory=dict)
    #: what the gateway of an API-integrated submission did (the ledger's ``gateway``), ``None``
    #: for other submissions; its ``measurements`` (``measured_by="gateway"``) are the run's too
    gateway: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return bool(self.result.status == "finished")

    def measurements(self) -> list[dict[str, Any]]:
        """The wall time and the peak memory of each process, measured by the executor on the host
        (trustworthy: the participant's code runs inside the process, never in the executor). The
        peak memory (MiB) says how it was measured (``tool``: the process's memory cgroup, wait4,
        the container's cgroup, the engine's stats API), or is ``unavailable`` with the reason."""
        from ..runtime.measurements import Measurement

        found = []
        for s in self.result.steps:
            for p in s.processes:
                found.append(Measurement(f"{p.name} wall time", round(p.elapsed_s, 3), "s", "executor", s.step))
                peak = p.peak_memory_mb
                source = p.peak_memory_source
                found.append(Measurement(f"{p.name} peak memory", peak, "MiB", "executor", s.step, tool=source)
                             if peak is not None else
                             Measurement(f"{p.name} peak memory", None, "MiB", "executor", s.step,
                                         status="unavailable", reason=source or "the executor did not measure it"))
        return [m.to_json() for m in found] + list((self.gateway or {}).get("measurements") or [])

    def step_measurements(self) -> list[Any]:
        """:meth:`measurements` as :class:`~aibench_plugins.components.complexity.Measurement` s: what
        the scoring-side complexity meters read (``EvaluationSession.step_measurements``)."""
        from ..components.complexity import Measurement

        return [Measurement.from_json(m) for m in self.measurements()]

    def document(self) -> dict[str, Any]:
        """The report document (``report.json``, ``schemas/aibench-report.schema.json``): the same
        shape the wrapped runtime writes, with what only the host knows under ``run``."""
        from ..evaluation.report import report_document

        full = self.to_json(embed=False)
        return report_document(
            producer="aibench run", status=self.result.status, message=self.result.message,
            platform=self.result.worker, phase=full["phase"], manifest_sha256=self.manifest_sha256,
            columns=self.columns, evaluation=self.evaluation, measurements=full["measurements"],
            concepts=self.concepts, plugin_output=self.plugin_output or None,
            run={k: full[k] for k in HOST_ONLY if k in full})

    def to_json(self, *, embed: bool = True) -> dict[str, Any]:
        """The documented ``aibench run --json`` shape (docs/cli.md): the run's record, and the
        report document under ``report`` (``embed``)."""
        result = self.result
        data = {
            "report_version": REPORT_VERSION,
            "run_id": self.run_id,
            "status": result.status,
            "message": result.message,
            "platform": result.worker,
            "phase": {"number": result.phase.number, "name": result.phase.name},
            "time_limit_s": result.time_limit_s,
            "columns": self.columns,
            "plugin_columns": [c.to_json() for c in self.evaluation.columns] if self.evaluation else [],
            "plugin_failures": [f.to_json() for f in self.evaluation.failures] if self.evaluation else [],
            "check_problems": [p.to_json() for p in self.evaluation.problems] if self.evaluation else [],
            "analyses": [a.to_json() for a in self.evaluation.analyses] if self.evaluation else [],
            "complexity": self.evaluation.complexity.to_json() if self.evaluation and self.evaluation.complexity
            else None,
            "manifest_sha256": self.manifest_sha256,
            "scores_file": result.scores.file if result.scores is not None else None,
            "steps": [{"step": s.step, "output_dir": str(s.output_dir),
                       "processes": [{"name": p.name, "exit_code": p.exit_code, "reason": p.reason,
                                      "elapsed_s": round(p.elapsed_s, 3),
                                      "peak_memory_mb": p.peak_memory_mb,
                                      "message": p.message,
                                      "limits_applied": dict(p.limits_applied)}
                                     for p in s.processes],
                       "logs": {k: str(v) for k, v in s.logs.items()}} for s in result.steps],
            "work_dir": str(self.work_dir),
            "detailed_results": str(self.detailed_results) if self.detailed_results else None,
            "participant_page": {"path": str(self.participant_page) if self.participant_page else None,
                                 "note": self.participant_page_note},
            "isolation": self.isolation,
            "executor": self.executor,
            "bundle_image": self.bundle_image,
            "interpreters": self.interpreters,
            "limits": self.limits,
            "explanations": self.explanations,
            "measurements": self.measurements(),
            "rules_applied": result.rules_applied,
            "warnings": result.warnings,
            "errors": self.errors,
            "plugin_output": self.plugin_output,
            "reproducibility": self.reproducibility,
            "gateway": self.gateway,
        }
        if embed:
            data["report"] = self.document()
        return data
