"""``aibench rerun RUN_ID``: a recorded run run again from its reproducibility record
(:mod:`aibench_plugins.run.reproducibility`), and what differs.

:func:`rerun` reads the run's record, checks that the bundle (each program and data folder of
the phase with it) and the submission are still at their recorded paths with their recorded
sha256 (a missing input, or a changed one without ``allow_changed_inputs``, is refused before
anything runs: :class:`~aibench_plugins.core.errors.RerunRefused`, each input with the
expected and found hash and whose fix it is), then runs it again through
:func:`~aibench_plugins.run.runner.run_bundle` with the recorded platform, phase, task,
executor, options and given limits (the manifest's limits come from the manifest again, whose
hash was checked), the container image pinned to the recorded image ID (``image`` overrides it:
the report then says the image differs). The new run is an ordinary run of the ledger, its
record's ``rerun_of`` naming the old one.

The comparison (:class:`RerunReport`):

* ``scores``: every leaderboard column of either run (the bundle's and the plugins'), equal or
  not, with the absolute and relative deltas; numbers are equal when
  ``math.isclose(old, new, rel_tol=tolerance, abs_tol=tolerance)`` (default ``0``: exact), NaN
  equals NaN, anything else compares exactly;
* ``outcome``: status and each process's exit code (and the message, shown, not compared: it
  may hold paths of the run's folder);
* ``facts``: what the two records say differently about the image (ID, digests), the engine
  (executor plugin version, Docker version), the software (aibench, compat, Python, plugin
  versions, each program's interpreter and packages), the hardware, the limits, the seeds and the
  inputs (when allowed to differ). Times, ids, paths of run folders are not facts.

``identical`` is the outcome's: scores, status and exit codes the same. The facts never make a
rerun non-identical (an image may change with the same scores, which is the point of saying
so), they say why scores may differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..core.errors import RerunRefused

if TYPE_CHECKING:
    from .ledger import RunRecord
    from .report import RunReport

__all__ = ["RERUN_VERSION", "FactDifference", "RerunReport", "ScoreComparison", "RerunRefused", "rerun"]

RERUN_VERSION: Final = 1
#: options run_bundle takes by name; any other recorded option goes in its executor_options
_NAMED_OPTIONS: Final = ("isolation", "image", "network", "python")
#: the sections compared, and inside each what is left out (run-specific, not a fact)
_FACT_SECTIONS: Final = ("image", "engine", "software", "hardware", "limits", "seeds", "inputs", "run")


@dataclass(frozen=True)
class ScoreComparison:
    """One leaderboard column: its value in the recorded run and in the re-run."""

    key: str
    old: Any
    new: Any
    equal: bool
    abs_delta: float | None = None
    rel_delta: float | None = None
    #: compared and shown, but not counted (``ignore``: a column that is a timing, say)
    ignored: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old": self.old, "new": self.new, "equal": self.equal,
                "abs_delta": self.abs_delta, "rel_delta": self.rel_delta, "ignored": self.ignored}


@dataclass(frozen=True)
class FactDifference:
    """A recorded fact that differs: ``group`` (``image``, ``hardware``, ``software``, ``engine``,
    ``limits``, ``seeds``, ``inputs``, ``run``), ``fact`` (a dotted path in the record), the values."""

    group: str
    fact: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "fact": self.fact, "old": self.old, "new": self.new}


@dataclass
class RerunReport:
    """What ``aibench rerun`` found: the two runs, their scores, outcomes and differing facts."""

    original: RunRecord
    rerun: RunRecord
    report: RunReport
    scores: list[ScoreComparison]
    outcome: dict[str, dict[str, Any]]
    facts: list[FactDifference]
    tolerance: float = 0.0
    image_override: str | None = None
    #: inputs that changed since the recorded run, run anyway (``allow_changed_inputs``)
    changed_inputs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def scores_equal(self) -> bool:
        return all(s.equal or s.ignored for s in self.scores)

    @property
    def identical(self) -> bool:
        """Scores, status and exit codes the same (facts may differ: see :attr:`facts`)."""
        return self.scores_equal and all(o["equal"] for name, o in self.outcome.items() if name != "message")

    def differing_groups(self) -> list[str]:
        """The groups of facts that differ, in the order of :data:`_FACT_SECTIONS`."""
        found = {f.group for f in self.facts}
        return [g for g in _FACT_SECTIONS if g in found]

    def to_json(self) -> dict[str, Any]:
        """The documented ``aibench rerun --json`` shape (docs/reproducibility.md)."""
        return {"rerun_version": RERUN_VERSION, "status": "identical" if self.identical else "different",
                "identical": self.identical, "scores_equal": self.scores_equal,
                "original": self.original.id, "rerun": self.rerun.id, "tolerance": self.tolerance,
                "image_override": self.image_override,
                "scores": [s.to_json() for s in self.scores], "outcome": self.outcome,
                "facts": [f.to_json() for f in self.facts], "differing": self.differing_groups(),
                "changed_inputs": self.changed_inputs, "warnings": self.warnings,
                "work_dir": str(self.report.work_dir)}


def rerun(run_id: str, ledger_path: str | Path | None = None, *, image: str | None = None,
          tolerance: float = 0.0, allow_changed_inputs: bool = False,
          work_dir: str | Path | None = None, ignore: Iterable[str] = ()) -> RerunReport:
    """Run the recorded run ``run_id`` (an id or a unique prefix) again and compare. The columns
    in ``ignore`` (keys: a wall time the scoring program reports as a score, say) are compared and
    shown but do not make the outcome differ.

    :raises aibench_plugins.core.errors.UnknownRunError: no run (or several) with that id.
    :raises RerunRefused: the run has no reproducibility record, or an input is missing, or
        changed and ``allow_changed_inputs`` is false; nothing ran.
    :raises aibench_plugins.core.errors.InvalidValueError: a negative ``tolerance``.

    What :func:`~aibench_plugins.run.runner.run_bundle` raises passes through (the engine gone,
    the image gone, limits refused, the bundle's problems).
    """
    from ..core.errors import InvalidValueError
    from .ledger import Ledger

    if not tolerance >= 0:
        raise InvalidValueError(f"tolerance {tolerance!r}: expected a number >= 0 (0: exact)")
    with Ledger.open(ledger_path) as ledger:
        original = ledger.get(run_id)
        where = ledger.path
    document = _usable(original)
    changed = check_inputs(original.id, document)
    if changed and not allow_changed_inputs:
        listed = "; ".join(f"{c['input']} {c['path']}: recorded sha256 {c['expected']}, found {c['found']}"
                           for c in changed)
        raise RerunRefused(f"run {original.id[:8]}'s inputs changed since it ran: {listed}. A re-run of changed "
                           "inputs says nothing about reproducibility; put the recorded files back, or rerun with "
                           "--allow-changed-inputs to run what is there now and see the differences", changed)
    warnings: list[str] = []
    report = _run_again(original, document, where, image, work_dir, warnings)
    with Ledger.open(where) as ledger:
        again = ledger.get(report.run_id)
    return RerunReport(original, again, report, compare_scores(original.scores, again.scores, tolerance, ignore),
                       compare_outcome(original, again), compare_facts(document, again.reproducibility),
                       tolerance, image, changed, warnings)


def _usable(record: RunRecord) -> dict[str, Any]:
    """The run's reproducibility document, or :class:`RerunRefused` saying why it cannot be used."""
    from .reproducibility import RECORD_VERSION

    document = dict(record.reproducibility or {})
    short = record.id[:8]
    if not document:
        raise RerunRefused(f"run {short} has no reproducibility record (it was recorded by an aibench before "
                           "schema version 5); run it with 'aibench run' instead",
                           [{"input": "record", "path": None, "expected": RECORD_VERSION, "found": None,
                             "fix": "yours: aibench run BUNDLE SUBMISSION"}])
    if document.get("version") != RECORD_VERSION or "error" in document or "run" not in document:
        found = document.get("error") or f"version {document.get('version')!r}"
        raise RerunRefused(f"run {short}'s reproducibility record cannot be used ({found}; this aibench reads "
                           f"version {RECORD_VERSION})",
                           [{"input": "record", "path": None, "expected": RECORD_VERSION, "found": found,
                             "fix": "yours: aibench run BUNDLE SUBMISSION"}])
    return document


def check_inputs(run_id: str, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The recorded inputs that changed (``input``, ``path``, ``expected``, ``found``, ``fix``).

    :raises RerunRefused: when the bundle or the submission is not at its recorded path.
    """
    from .hashing import sha256_of_path
    from .reproducibility import hash_inputs

    inputs = document["inputs"]
    bundle, submission = Path(inputs["bundle"]["path"]), Path(inputs["submission"]["path"])
    missing = [{"input": name, "path": str(path), "expected": inputs[name]["sha256"], "found": None, "fix": fix}
               for name, path, fix in (
                   ("bundle", bundle, "the organiser's bundle: put it back at that path"),
                   ("submission", submission, "the participant's submission: put it back at that path"))
               if not path.exists()]
    if missing:
        raise RerunRefused(f"run {run_id[:8]} cannot be run again: "
                           + "; ".join(f"its {m['input']} is no longer at {m['path']} (recorded sha256 "
                                       f"{m['expected']}); {m['fix']}" for m in missing), missing)
    programs = inputs.get("programs") or {}
    bundle_sha, now = hash_inputs(bundle, {name: part["path"] for name, part in programs.items()})
    changed = []
    if bundle_sha != inputs["bundle"]["sha256"]:
        changed.append({"input": "bundle", "path": str(bundle), "expected": inputs["bundle"]["sha256"],
                        "found": bundle_sha, "fix": "the organiser's: the bundle was edited since the run"})
        for name, part in programs.items():
            if now[name]["sha256"] != part.get("sha256"):
                changed.append({"input": name, "path": str(bundle / part["path"]), "expected": part.get("sha256"),
                                "found": now[name]["sha256"],
                                "fix": f"the organiser's: the {name.replace('_', ' ')} was edited since the run"})
    submission_sha = sha256_of_path(submission)
    if submission_sha != inputs["submission"]["sha256"]:
        changed.append({"input": "submission", "path": str(submission), "expected": inputs["submission"]["sha256"],
                        "found": submission_sha, "fix": "the participant's: the submission file changed since the run"})
    return changed


def _run_again(original: RunRecord, document: Mapping[str, Any], ledger_path: Path, image: str | None,
               work_dir: str | Path | None, warnings: list[str]) -> RunReport:
    """The recorded run through :func:`run_bundle` once more, with its recorded parameters."""
    from codalab_worker_compat import ResourceLimits

    from .runner import run_bundle

    from ..core.errors import UsageError

    asked = document["run"]
    options = dict(asked.get("options") or {})
    if image and not document.get("image") and "image" not in options:
        raise UsageError(f"--image {image}: run {original.id[:8]} ran on the {asked.get('executor')} executor, which "
                         "runs no image; rerun it without --image")
    redacted = sorted(name for name, value in options.items() if value == "<redacted>")
    for name in redacted:
        options.pop(name)
        warnings.append(f"option {name} was not recorded (it looks like a credential): the executor takes it from "
                        "the environment again, as it should")
    recorded_image = (document.get("image") or {}).get("id") or options.get("image")
    chosen_image = image or recorded_image
    given: dict[str, Any] = {name: (tuple(value) if isinstance(value, list) else value)
                             for name, value in (asked.get("limits") or {}).get("given", {}).items()}
    extra = {name: value for name, value in options.items() if name not in _NAMED_OPTIONS}
    return run_bundle(
        document["inputs"]["bundle"]["path"], document["inputs"]["submission"]["path"], phase=asked.get("phase"),
        task=asked.get("task"), platform=asked.get("platform"), ledger_path=ledger_path, work_dir=work_dir,
        isolation=options.get("isolation") or "auto", use_plugins=bool(asked.get("use_plugins", True)),
        executor=asked.get("executor") or original.executor or "local",
        image=chosen_image if asked.get("executor") == "docker" or image else options.get("image"),
        network=bool(options.get("network")), limits=ResourceLimits(**given) if given else None,
        python=options.get("python"), executor_options=extra or None, participant=original.participant,
        rerun_of=original.id)


def compare_scores(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                   tolerance: float = 0.0, ignore: Iterable[str] = ()) -> list[ScoreComparison]:
    """Every column of either row, in the old row's order then the new one's extra columns (those
    in ``ignore`` marked ``ignored``)."""
    old, new, ignored = dict(old or {}), dict(new or {}), set(ignore)
    found = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and _number(a) and _number(b):
            x, y = float(a), float(b)
            both_nan = math.isnan(x) and math.isnan(y)
            close = math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance) if tolerance else x == y
            equal = both_nan or close
            delta = None if both_nan else y - x
            relative = None if delta is None or x == 0 or math.isnan(delta) else delta / abs(x)
            found.append(ScoreComparison(key, a, b, equal, delta, relative, key in ignored))
        else:
            found.append(ScoreComparison(key, a, b, key in old and key in new and a == b, ignored=key in ignored))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_outcome(old: RunRecord, new: RunRecord) -> dict[str, dict[str, Any]]:
    """Status, exit codes and message of both runs, each with whether they are equal."""
    return {name: {"old": a, "new": b, "equal": a == b}
            for name, a, b in (("status", old.status, new.status), ("exit_codes", old.exit_codes, new.exit_codes),
                               ("message", old.message, new.message))}


def compare_facts(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FactDifference]:
    """The facts of the two records that differ (see the module's docstring for what counts)."""
    a, b = dict(_facts(old)), dict(_facts(new))
    return [FactDifference(key.partition(".")[0], key, a.get(key), b.get(key))
            for key in [*a, *(k for k in b if k not in a)] if a.get(key) != b.get(key)]


def _facts(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(group.fact, value)`` of every compared fact of a record."""
    image = document.get("image") or {}
    yield "image.id", image.get("id")
    yield "image.repo_digests", sorted(image.get("repo_digests") or [])
    engine = document.get("engine") or {}
    yield "engine.executor", engine.get("executor")
    yield "engine.executor_version", engine.get("version")
    for name in ("version", "api_version", "os", "arch"):
        if engine.get("engine") is not None:
            yield f"engine.docker.{name}", engine["engine"].get(name)
    software = document.get("software") or {}
    for name in ("aibench", "codalab_worker_compat", "python", "python_implementation"):
        yield f"software.{name}", software.get(name)
    for plugin in software.get("plugins") or []:
        yield f"software.plugins.{plugin.get('id')}", f"{plugin.get('distribution')} {plugin.get('version')}"
    for process, info in (software.get("interpreters") or {}).items():
        yield f"software.interpreters.{process}.version", info.get("version")
        for package, version in (info.get("packages") or {}).items():
            yield f"software.interpreters.{process}.{package}", version
    hardware = document.get("hardware") or {}
    for name in ("cpu_model", "cpu_count", "memory_mb", "torch", "kernel", "os", "machine", "hostname"):
        yield f"hardware.{name}", hardware.get(name)
    gpu = hardware.get("gpu") or {}
    for name in ("model", "driver", "cuda", "status"):
        yield f"hardware.gpu.{name}", gpu.get(name)
    asked = document.get("run") or {}
    for name, limit in ((asked.get("limits") or {}).get("effective") or {}).items():
        yield f"limits.{name}", limit.get("value") if isinstance(limit, Mapping) else limit
    described = engine.get("describe") or {}
    for name in ("memory_mb", "cpus", "pids", "shm_mb", "tmp_mb", "user", "network", "isolation", "python"):
        if name in described:
            yield f"limits.executor.{name}" if name in ("memory_mb", "cpus", "pids", "shm_mb", "tmp_mb") \
                else f"run.executor.{name}", described[name]
    seeds = document.get("seeds") or {}
    for name, seed in (seeds.get("entries") or {}).items():
        yield f"seeds.{name}", seed
    for name, value in (seeds.get("aibench_process") or {}).items():
        yield f"seeds.aibench_process.{name}", value
    inputs = document.get("inputs") or {}
    for name in ("bundle", "manifest", "submission"):
        yield f"inputs.{name}", (inputs.get(name) or {}).get("sha256")
    for name, part in (inputs.get("programs") or {}).items():
        yield f"inputs.{name}", part.get("sha256")
    for name in ("platform", "phase", "task", "use_plugins", "executor"):
        yield f"run.{name}", asked.get(name)
