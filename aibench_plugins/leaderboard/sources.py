"""Where a phase's submissions come from: the run ledger, or a folder of result submissions.

Either way each submission becomes a :class:`Entry`: the folder its predictions are read from
(``input/res`` of its run, or the submission itself), the reference folder it is compared with
(``input/ref`` of its run, or the phase's ``reference_data`` of the bundle), and its
``report.json`` when it has one. What cannot be analysed is a :class:`Skipped` with the reason,
never silently dropped.

Ledger: the runs recorded for the bundle (same resolved path) and phase (number or name),
``finished`` ones only, the latest per submission (its resolved path) unless every run or given
runs are asked for. A run whose folder ``aibench gc`` collected has no predictions left: skipped,
saying so.

Folder: every sub-folder or ``.zip`` of the folder is one submission. A code submission (a
``metadata`` file naming a ``command``, or, in a phase with an ingestion program, no file of the
submission tables) has no predictions until it runs: skipped, saying to run it with ``aibench run``
and read the ledger instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import AibenchError

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle, Phase

    from ..core.host import PluginHost
    from ..manifest.loading import Manifest
    from ..manifest.plan import PhasePlan

__all__ = ["Entry", "LeaderboardError", "PhaseSource", "Skipped", "from_folder", "from_ledger", "open_bundle"]


class LeaderboardError(AibenchError):
    """What stops ``aibench leaderboard``: the message says what is wrong, where, and whose fix it is."""


@dataclass(frozen=True)
class Entry:
    """One submission to analyse."""

    name: str
    predictions_dir: Path
    reference_dir: Path
    run_id: str | None = None
    submission_path: str | None = None
    started_at: str | None = None
    report: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "run_id": self.run_id, "submission_path": self.submission_path,
                "started_at": self.started_at}


@dataclass(frozen=True)
class Skipped:
    """A submission (or run) left out, and why."""

    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason}


@dataclass
class PhaseSource:
    """The bundle's phase, its manifest's plan and plugins, and the submissions found."""

    bundle_path: Path
    phase_number: int
    phase_name: str
    manifest: Manifest
    host: PluginHost
    plan: PhasePlan
    kind: str  # "ledger" | "folder"
    location: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def open_bundle(bundle_path: str | Path, phase: str | None) -> tuple[Bundle, Phase, Manifest, PluginHost, PhasePlan]:
    """The bundle, its phase (by number or name; default: the first), its validated manifest and
    plugins, and the phase's plan. :raises LeaderboardError: when any of them is missing or invalid."""
    from codalab_worker_compat import BundleError, load_bundle

    from ..manifest.validate import validate_bundle

    try:
        bundle = load_bundle(bundle_path)
    except BundleError as error:
        raise LeaderboardError(f"{bundle_path}: {error.message}" + (f" ({error.fix})" if error.fix else "")) from None
    chosen = _phase(bundle, phase)
    if not bundle.exists("aibench.json"):
        raise LeaderboardError(f"{bundle_path}: the bundle has no aibench.json, so there are no metric columns to "
                               "analyse (Organiser: add a manifest whose metrics give the leaderboard's columns; "
                               "see docs/manifest.md)")
    report = validate_bundle(bundle_path, bundle=bundle)
    if not report.ok or report.manifest is None or report.host is None:
        problems = "; ".join(f"{p.file}:{p.line or ''} {p.message}" for p in report.errors)
        raise LeaderboardError(f"{bundle_path}: its aibench.json has problems ('aibench validate {bundle_path}' "
                               f"lists them): {problems}")
    manifest = report.manifest
    return bundle, chosen, manifest, report.host, manifest.plan(manifest.phase_for(chosen.number, chosen.name))


def _phase(bundle: Bundle, phase: str | None) -> Phase:
    if phase is None:
        return bundle.phases[0]
    for each in bundle.phases:
        if str(each.number) == phase or each.name == phase:
            return each
    known = ", ".join(f"{p.number} ({p.name})" for p in bundle.phases)
    raise LeaderboardError(f"the bundle has no phase {phase!r}; its phases are {known} (give --phase a number or "
                           "a name)")


def from_ledger(bundle_path: str | Path, phase: str | None, ledger_path: str | Path | None = None, *,
                run_ids: Sequence[str] = (), every_run: bool = False) -> PhaseSource:
    """The finished runs of ``bundle_path``'s phase recorded in the ledger (module docstring)."""
    from ..run.ledger import Ledger, default_ledger_path

    bundle, chosen, manifest, host, plan = open_bundle(bundle_path, phase)
    resolved = str(Path(bundle_path).resolve())
    path = Path(ledger_path) if ledger_path is not None else default_ledger_path()
    if not path.is_file():
        raise LeaderboardError(f"no run ledger at {path}: no submission was run with 'aibench run' here (set "
                               "AIBENCH_HOME or --ledger to the ledger that has the runs, or read a folder of result "
                               "submissions with --submissions)")
    with Ledger.open(path, read_only=True) as ledger:  # only read: runs of gone processes read as interrupted
        location = str(ledger.path)
        if run_ids:
            records = [ledger.get(run_id) for run_id in run_ids]
        else:
            records = [r for r in ledger.runs(None) if r.bundle_path == resolved
                       and r.phase_number == chosen.number]
    source = PhaseSource(Path(bundle_path), chosen.number, chosen.name, manifest, host, plan, "ledger", location)
    if not records:
        raise LeaderboardError(f"no run of {bundle_path} phase {chosen.number} ({chosen.name}) is recorded in "
                               f"{location}; run submissions first with 'aibench run {bundle_path} SUBMISSION' "
                               "(or give --ledger, or read a folder of result submissions with --submissions)")
    seen: set[str] = set()
    for record in records:  # newest first
        name = Path(record.submission_path or record.id).name
        label = f"run {record.id[:8]} ({name})"
        if run_ids and (record.bundle_path != resolved or record.phase_number != chosen.number):
            source.skipped.append(Skipped(label, f"a run of {record.bundle_path} phase {record.phase_number}, not of "
                                                 f"{resolved} phase {chosen.number}"))
            continue
        if record.status != "finished":
            source.skipped.append(Skipped(label, f"the run is {record.status}, not finished: "
                                          f"{(record.message or '').strip()[:200] or 'no message'}"))
            continue
        if record.manifest_sha256 != manifest.sha256:
            source.notes.append(f"{label} was scored with another aibench.json (sha256 {record.manifest_sha256}); its "
                                "predictions are read with the manifest as it is now")
        if not every_run and not run_ids and (record.submission_path or record.id) in seen:
            source.skipped.append(Skipped(label, "an older run of a submission that has a newer finished run "
                                                 "(--every-run analyses each run)"))
            continue
        seen.add(record.submission_path or record.id)
        work = Path(record.outputs.get("work_dir", ""))
        if record.collected_at is not None or not (work / "scoring" / "input" / "res").is_dir():
            why = (f"its folder was removed by 'aibench gc' at {record.collected_at}" if record.collected_at
                   else f"its predictions are gone from {work / 'scoring' / 'input' / 'res'}")
            source.skipped.append(Skipped(label, f"{why}, so there are no per-case results to analyse; run the "
                                                 "submission again with 'aibench run'"))
            continue
        source.entries.append(Entry(_unique(name, source.entries), work / "scoring" / "input" / "res",
                                    work / "scoring" / "input" / "ref", record.id, record.submission_path,
                                    record.started_at, _report(work / "report.json")))
    return source


@contextmanager
def from_folder(bundle_path: str | Path, phase: str | None, folder: str | Path) -> Iterator[PhaseSource]:
    """The result submissions in ``folder`` (module docstring); zips are unpacked in a temporary
    folder removed on exit."""
    from codalab_worker_compat import BundleError, unpack, unpack_part

    from ..manifest.loading import unpack_limits

    bundle, chosen, manifest, host, plan = open_bundle(bundle_path, phase)
    root = Path(folder)
    if not root.is_dir():
        raise LeaderboardError(f"--submissions {folder}: not a folder (give a folder whose sub-folders or .zip "
                               "files are result submissions)")
    source = PhaseSource(Path(bundle_path), chosen.number, chosen.name, manifest, host, plan, "folder", str(root))
    worker = "v1" if bundle.platform == "v1" else "codabench"
    scratch = Path(tempfile.mkdtemp(prefix="aibench-leaderboard-"))
    try:
        target = chosen.programs.get("reference_data")
        if target is None:
            raise LeaderboardError(f"phase {chosen.number} ({chosen.name}) has no reference_data, so there is nothing "
                                   "to compare the predictions with (Organiser: add reference_data to the phase)")
        try:
            reference, _ = unpack_part(bundle, target, scratch / "ref", worker,  # type: ignore[arg-type]
                                       limits=unpack_limits(bundle), part=f"reference_data {target!r}")
        except BundleError as error:
            raise LeaderboardError(f"{bundle_path}: {error.message}") from None
        for path in sorted(root.iterdir()):
            if not (path.is_dir() or path.suffix == ".zip"):
                continue
            name = path.stem if path.suffix == ".zip" else path.name
            here = path
            if path.suffix == ".zip":
                here = scratch / "submissions" / f"{len(source.entries)}-{name}"
                try:
                    unpack(path, here, worker, limits=unpack_limits(bundle))  # type: ignore[arg-type]
                except Exception as error:  # noqa: BLE001 - an unreadable zip is that submission's problem
                    source.skipped.append(Skipped(name, f"cannot be unpacked: {error}"))
                    continue
            why = _code_submission(here, "ingestion_program" in chosen.programs, plan)
            if why:
                source.skipped.append(Skipped(name, why))
                continue
            source.entries.append(Entry(_unique(name, source.entries), here, reference, None, str(path.resolve())))
        yield source
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _code_submission(folder: Path, ingestion: bool, plan: PhasePlan) -> str | None:
    """Why ``folder`` is a code submission, or ``None``: its ``metadata`` names a command, or the
    phase has an ingestion program and the folder holds none of the submission tables' files."""
    from ..data.readers import ReadError, locate

    run_it = ("it has no predictions until it runs; run it with 'aibench run BUNDLE SUBMISSION' and analyse the "
              "ledger instead of the folder")
    metadata = folder / "metadata"
    try:
        text = metadata.read_text(encoding="utf-8", errors="replace") if metadata.is_file() else ""
    except OSError:
        text = ""
    if "command" in text:
        return f"a code submission (its metadata names a command): {run_it}"
    if not ingestion:
        return None
    files = [d.file for d in plan.tables.values() if d.source == "submission"]
    for pattern in files:
        try:
            locate(folder, pattern)
            return None
        except ReadError:
            continue
    return (f"a code submission (the phase has an ingestion program, and the folder holds no "
            f"{' or '.join(files) or 'predictions'}): {run_it}")


def _unique(name: str, entries: Sequence[Entry]) -> str:
    taken = {e.name for e in entries}
    if name not in taken:
        return name
    number = 2
    while f"{name}#{number}" in taken:
        number += 1
    return f"{name}#{number}"


def _report(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
