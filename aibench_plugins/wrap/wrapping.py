"""``aibench wrap``: a bundle whose programs run the manifest's plugins on any standard
worker, in the platform's ordinary image.

For each scoring program the phases use, the ``command`` of its metadata becomes

    python3 <program>/_aibench/run.py score $input $output -- <the original command>

so the worker substitutes and splits the original command itself, exactly as before, and
the runtime (:mod:`aibench_plugins.runtime`) runs it, then the plugins. Ingestion programs
(code submissions) get ``... run.py ingest $output -- <original>``, which measures the
participant's run (``ingest $output $input`` when the manifest declares input perturbations: the
runtime re-runs the original on perturbed copies of ``$input``; an original that does not receive
``$input`` is refused then). ``<program>`` is ``$program`` on v1 (a host path; the working directory
is the run folder) and ``/app/program`` on v2 (where Codabench mounts every program;
``$program`` there is ``/app/ingestion_program`` during ingestion-in-scoring, §5.4).
Each program gets ``_aibench/`` with the bootstrap, the vendored runtime and plugins, the
manifest and ``wrap.json``; ``competition.yaml`` gets a leaderboard column per plugin
score. The result is checked: it must load in codalab_worker_compat and pass validation.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from .competition_yaml import NewColumn, add_columns
from .image import TargetImage, target_image
from .image_fit import check_image_fit
from .page_setting import detailed_results_setting, html_pages_mentioned
from .vendor import Vendored, vendor_ingestion, zip_lib
from ..core.errors import ColumnEditError, WrapRefused
from ..core.problems import pointer
from ..manifest.loading import MANIFEST_NAME, Manifest
from ..runtime import BOOTSTRAP, MINIMUM_PYTHON
from ..manifest.wraprecord import WrapRecord, find_in_bundle
from .._version import __version__

if TYPE_CHECKING:
    from codalab_worker_compat import Worker

RUNTIME_DIR = "_aibench"
#: the vendored runtime and plugins in a wrapped program, imported from the zip (zipimport)
LIB_ZIP = "lib.zip"
Role = Literal["scoring", "ingestion"]


@dataclass
class WrappedProgram:
    """One program of the bundle as wrapped."""

    path: str
    role: Role
    phases: list[int]
    original_commands: list[str]
    commands: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "role": self.role, "phases": self.phases,
                "original_commands": self.original_commands, "commands": self.commands}


@dataclass
class WrapReport:
    """What ``aibench wrap`` did (``--json`` shape in docs/cli.md)."""

    source: str
    output: str
    platform: str
    programs: list[WrappedProgram] = field(default_factory=list)
    columns: list[NewColumn] = field(default_factory=list)
    vendored: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    size_bytes: int = 0
    manifest_sha256: str = ""
    image: dict[str, Any] = field(default_factory=dict)
    detailed_results: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"report_version": 1, "source": self.source, "output": self.output, "platform": self.platform,
                "programs": [p.to_json() for p in self.programs],
                "columns": [{"key": c.key, "title": c.title, "sorting": c.sorting, "precision": c.precision,
                             "hidden": c.hidden} for c in self.columns],
                "vendored": self.vendored, "warnings": self.warnings, "size_bytes": self.size_bytes,
                "manifest_sha256": self.manifest_sha256,
                "python_minimum": ".".join(map(str, MINIMUM_PYTHON)), "image": self.image,
                "detailed_results": self.detailed_results}


def _host_only_sections(manifest: Manifest) -> list[str]:
    """A warning for each ``executor`` section: it chooses where ``aibench run`` runs the steps;
    on the platform, its own worker runs them and the section does nothing."""
    sections: dict[tuple[str, ...], str] = {}
    for key in manifest.phase_keys():
        plan = manifest.plan(key)
        if plan.executor is not None:
            sections.setdefault(plan.executor_at, str(plan.executor["use"]))
    return [f"{manifest.file} {pointer(*at)}: the executor section ({use!r}) applies to 'aibench run' only; on the "
            "platform its compute worker runs the steps" for at, use in sections.items()]


def _gateway_sections(manifest: Manifest) -> list[str]:
    """A refusal for each ``submissions`` section: the platforms' workers cannot run the gateway of
    API-integrated submissions (no Docker engine for a serving image, no guaranteed route to a
    participant's endpoint), so a wrapped bundle would accept endpoint.json and score nothing."""
    found = {manifest.plan(key).submissions_at for key in manifest.phase_keys() if manifest.plan(key).submissions}
    return [f"{manifest.file} {pointer(*at)}: API-integrated submissions (the gateway) run under 'aibench run' and "
            "'aibench rescore' only; the platform's compute workers would take endpoint.json for a result submission "
            "and score nothing. Organiser: remove the submissions section from the bundle you wrap, and score "
            "API-integrated submissions with 'aibench run'" for at in sorted(found)]


def wrap_bundle(source: str | Path, output: str | Path, *, measure_ingestion: bool = True,
                detailed_results: bool = False, image: str | None = None, image_provides: Sequence[str] = (),
                image_python: str | None = None) -> WrapReport:
    """Wrap the bundle at ``source`` (folder or zip) into the zip ``output``.

    ``competition.yaml``'s ``enable_detailed_results`` is kept as it is unless
    ``detailed_results`` turns it on (:mod:`.page_setting`). The vendored distributions'
    requirements are checked against the image the workers will run (the bundle's, or
    ``image``; what it provides as recorded in ``images.json``, or declared by
    ``image_provides``, ``NAME==VERSION`` each, and ``image_python``; :mod:`.image_fit`).
    Raises :class:`WrapRefused` with every reason when it cannot be wrapped safely.
    """
    from codalab_worker_compat import BundleError, load_bundle

    from ..evaluation.reference_checks import validate_with_data
    from ..manifest.validate import sibling

    try:
        bundle = load_bundle(source)
    except BundleError:  # validate_with_data reports it as a problem, with its file and fix
        bundle = None
    validation = validate_with_data(source, bundle=bundle)  # what aibench validate and aibench run check
    if bundle is None or not validation.ok or validation.manifest is None or validation.host is None:
        raise WrapRefused([f"aibench validate: {p}" for p in validation.errors] or ["the bundle has no aibench.json"])
    manifest, host = validation.manifest, validation.host
    if find_in_bundle(bundle) is not None:
        raise WrapRefused([f"{source} was made by 'aibench wrap' (its scoring program already holds {RUNTIME_DIR}/): "
                           "wrap the original bundle instead"])
    reasons = [f"plugin {r.id!r} is {r.status} here ({r.reason}): it cannot be copied into the bundle; install it, "
               "then wrap again" for r in host.failed()] + _gateway_sections(manifest)
    if reasons:
        raise WrapRefused(reasons)
    plans = _plan_programs(bundle, manifest, measure_ingestion, host)
    columns = _plan_columns(bundle, manifest, host)
    target = target_image(bundle.platform, bundle.spec, image=image, provides=image_provides, python=image_python)
    report = WrapReport(str(source), str(output), bundle.platform, columns=columns,
                        manifest_sha256=manifest.sha256)
    report.warnings += _host_only_sections(manifest)
    with tempfile.TemporaryDirectory(prefix="aibench-wrap-") as scratch:
        tree = Path(scratch) / "bundle"
        _unpack_bundle(bundle, tree)
        spec_path = tree / bundle.spec_name
        try:
            text, warnings = add_columns(spec_path.read_text(encoding="utf-8"), bundle.platform, columns)
        except ColumnEditError as error:
            raise WrapRefused([str(error)]) from None
        except UnicodeDecodeError as error:
            raise WrapRefused([f"{bundle.spec_name} is not UTF-8 text ({error.reason} at byte {error.start}): wrap adds "
                               "the plugin columns to it as UTF-8 text. Organiser: save it as UTF-8, then wrap again"
                               ]) from None
        report.warnings += warnings
        setting = detailed_results_setting(text, bundle, turn_on=detailed_results,
                                           scorer_pages=_scorer_pages(tree, bundle, plans))
        report.detailed_results, report.warnings = setting.to_json(), report.warnings + setting.warnings
        spec_path.write_text(setting.text, encoding="utf-8")
        lib = Path(scratch) / "lib"
        vendored = _vendor(lib, manifest, target)
        fit = check_image_fit(vendored, target, MINIMUM_PYTHON)
        if fit.refusals:
            raise WrapRefused(fit.refusals)
        report.vendored, report.warnings = vendored.to_json(), report.warnings + fit.warnings
        report.image = {**target.to_json(), "checked": fit.checked}
        ingestion_lib = Path(scratch) / "lib-ingestion"
        _vendor_ingestion(ingestion_lib, target, plans)
        manifest_bytes = bundle.read_bytes(sibling(bundle.spec_name, MANIFEST_NAME))
        base = PurePosixPath(bundle.spec_name).parent
        for plan in plans:
            record = WrapRecord(plan.role, bundle.platform, [], __version__, manifest.sha256, plan.manifest_phase,
                                plan.predicts, plan.phases, _original_columns(bundle), _required(manifest),
                                report.vendored, plan.time_limit_s, plan.perturbations, plan.complexity)
            report.programs.append(_wrap_program(tree / base / plan.path, plan, record,
                                                 lib if plan.role == "scoring" else ingestion_lib, manifest_bytes,
                                                 bundle.platform))
        _zip_tree(tree, Path(output), first=bundle.spec_name)
    report.size_bytes = Path(output).stat().st_size
    _check_result(Path(output), report)
    return report


# -- planning -------------------------------------------------------------------------

@dataclass
class _Plan:
    path: str
    role: Role
    phases: list[dict[str, Any]]
    manifest_phase: str | None
    predicts: bool
    time_limit_s: int
    #: an ingestion program's declared input perturbations (``PerturbationPlan.to_json()``)
    perturbations: dict[str, Any] | None = None
    #: an ingestion program's complexity plan (``ComplexityPlan.to_json()``), when meters run in its step
    complexity: dict[str, Any] | None = None
    #: the manifest phase keys of the phases it serves whose complexity meters measure in its step
    measured_phases: list[str | None] = field(default_factory=list)


def _plan_programs(bundle: Any, manifest: Manifest, measure_ingestion: bool, host: Any = None) -> list[_Plan]:
    """Each scoring program (and ingestion program) the phases use, once, with the phases it
    serves; refused when phases sharing a program need different plugin settings."""
    plans: dict[tuple[str, Role], _Plan] = {}
    settings: dict[str, tuple[Any, ...]] = {}
    reasons: list[str] = []
    for phase in bundle.phases:
        key = _manifest_phase(manifest, phase)
        effective = manifest.plan(key).settings()
        predicts = not (bundle.platform == "v1" and phase.scoring_only)
        perturbations = _perturbations(manifest, key, reasons)
        measured = _measures_in_prediction(manifest, host, key)
        for programs in phase.tasks or (phase.programs,):
            wanted: list[tuple[str, Role]] = [(programs["scoring_program"], "scoring")] \
                if programs.get("scoring_program") else []
            ingestion = programs.get("ingestion_program")
            if ingestion and measure_ingestion and not phase.ingestion_only_during_scoring and predicts:
                wanted.append((ingestion, "ingestion"))
            elif perturbations is not None:
                reasons.append(_no_rerun(phase, ingestion, measure_ingestion, predicts))
            elif measured and not measure_ingestion and ingestion:
                reasons.append(f"phase {phase.number} declares complexity meters that measure in the prediction step "
                               "(inside the ingestion program), but ingestion programs are not wrapped (aibench wrap "
                               "--no-measure). Organiser: wrap without --no-measure, or remove the entries")
            for path, role in wanted:
                if not bundle.exists(path):
                    reasons.append(f"phase {phase.number}: {role} program {path!r} is not in the bundle (a dataset "
                                   "key on the server cannot be wrapped); put the program in the bundle")
                    continue
                limit = min(phase.execution_time_limit, 600) if bundle.platform == "v2" else phase.execution_time_limit
                plan = plans.setdefault((path, role), _Plan(path, role, [], key, predicts, limit))
                plan.time_limit_s = min(plan.time_limit_s, limit)
                if {"number": phase.number, "name": phase.name} not in plan.phases:
                    plan.phases.append({"number": phase.number, "name": phase.name})
                plan.predicts = plan.predicts and predicts
                if role == "ingestion":
                    if plan.phases[:-1] and plan.perturbations != perturbations:
                        reasons.append(f"ingestion program {path!r} serves phases with different input perturbations "
                                       "in aibench.json; give each phase its own copy of the ingestion program in "
                                       "competition.yaml, or the same perturbations")
                    plan.perturbations = perturbations
                    if measured:
                        plan.measured_phases.append(key)
                if role == "scoring" and settings.setdefault(path, effective) != effective:
                    reasons.append(f"scoring program {path!r} serves phases with different plugin settings in "
                                   f"aibench.json 'phases' ({', '.join(str(p['number']) for p in plan.phases)}); "
                                   "its runtime cannot tell the phases apart: give each phase its own copy of the "
                                   "scoring program in competition.yaml, or the same settings")
    for plan in plans.values():
        if plan.role != "ingestion" or not plan.measured_phases:
            continue
        found = [_complexity(manifest, host, k, plan.time_limit_s) for k in dict.fromkeys(plan.measured_phases)]
        entries = {json.dumps(f["entries"], sort_keys=True) if f is not None else "" for f in found}
        if len(plan.measured_phases) != len(plan.phases) or len(entries) > 1:
            reasons.append(f"ingestion program {plan.path!r} serves phases with different complexity meters in "
                           "aibench.json; give each phase its own copy of the ingestion program in competition.yaml, "
                           "or the same complexity entries")
        plan.complexity = found[0]
    if reasons:
        raise WrapRefused(reasons)
    if not any(p.role == "scoring" for p in plans.values()):
        raise WrapRefused(["no phase has a scoring program to wrap"])
    return list(plans.values())


def _perturbations(manifest: Manifest, key: str | None, reasons: list[str]) -> dict[str, Any] | None:
    """The phase's declared input perturbations, as recorded in an ingestion program's ``wrap.json``."""
    from ..core.errors import PerturbationError
    from ..data.perturbations import declared_plan

    phases = manifest.document.get("phases") or {}
    prefix = f"/phases/{key}/robustness" if key is not None and "robustness" in phases.get(key, {}) else "/robustness"
    try:
        found = declared_plan(manifest.section("robustness", key), prefix)
    except PerturbationError as error:
        reasons.append(str(error))
        return None
    return found.to_json() if found is not None else None


def _measures_in_prediction(manifest: Manifest, host: Any, key: str | None) -> bool:
    """Whether a complexity meter of the phase measures in the prediction step."""
    return host is not None and _complexity(manifest, host, key, 600) is not None


def _complexity(manifest: Manifest, host: Any, key: str | None, time_limit_s: float) -> dict[str, Any] | None:
    """The phase's complexity plan, as recorded in an ingestion program's ``wrap.json``."""
    from ..evaluation.complexity_plan import complexity_plan

    found = complexity_plan(manifest, host, key, time_limit_s)
    return found.to_json() if found is not None else None


def _vendor_ingestion(lib: Path, target: TargetImage, plans: list[_Plan]) -> None:
    """The ingestion programs' lib: with the complexity meters' modules when one of them measures."""
    from ..complexity.plan import ComplexityPlan
    from ..core.errors import VendorError
    from ..evaluation.complexity_plan import meter_modules

    measured = [ComplexityPlan.from_json(p.complexity) for p in plans if p.complexity is not None]
    meters = list(dict.fromkeys(m for plan in measured for m in meter_modules(plan))) if measured else None
    uses = sorted({e.use for plan in measured for e in plan.prediction_entries})
    try:
        vendor_ingestion(lib, target, perturbations=any(p.perturbations for p in plans), meters=meters, uses=uses)
    except VendorError as error:
        raise WrapRefused([str(error)]) from None


def _no_rerun(phase: Any, ingestion: str | None, measure_ingestion: bool, predicts: bool) -> str:
    """Why phase ``phase``'s declared input perturbations cannot run, and the organiser's fix."""
    if not ingestion:
        why = "it has no ingestion program (perturbations re-run the ingestion program on perturbed inputs)"
    elif phase.ingestion_only_during_scoring:
        why = "its ingestion program runs only during scoring (ingestion_only_during_scoring)"
    elif not predicts:
        why = "it is a v1 scoring-only phase: there is no prediction step to re-run"
    else:
        why = "ingestion programs are not wrapped (aibench wrap --no-measure)"
    return (f"phase {phase.number} declares aibench.input_perturbations but {why}. Organiser: give the phase an "
            "ingestion program that runs in the prediction step (and wrap without --no-measure), or remove the entry")


def _manifest_phase(manifest: Manifest, phase: Any) -> str | None:
    return manifest.phase_for(phase.number, phase.name)


def _plan_columns(bundle: Any, manifest: Manifest, host: Any) -> list[NewColumn]:
    from ..evaluation.session import planned_columns

    seen: dict[str, NewColumn] = {}
    keys = manifest.phase_keys()
    existing = {c.key for c in bundle.columns}
    reasons = []
    for key in keys:
        for column in planned_columns(manifest, host, key):
            if column.key in existing:
                reasons.append(f"plugin column key {column.key!r} is already a column of competition.yaml: rename "
                               "the metric's key in aibench.json")
                continue
            new = NewColumn(column.key, column.title, "asc" if column.sorting == "asc" else "desc",
                            column.precision, column.hidden)
            if seen.setdefault(column.key, new) != new:
                reasons.append(f"plugin column key {column.key!r} is declared twice with different settings")
            if bundle.platform == "v2" and len(column.key) > 36:
                reasons.append(f"plugin column key {column.key!r} is longer than Codabench's 36 characters (§3.6): "
                               "shorten the metric's key or split name")
    if reasons:
        raise WrapRefused(sorted(set(reasons)))
    return list(seen.values())


def _original_columns(bundle: Any) -> list[dict[str, Any]]:
    return [{"key": c.key, "title": c.title, "sorting": c.sorting, "precision": c.precision}
            for c in bundle.columns]


def _required(manifest: Manifest) -> list[str]:
    """What the manifest marks required, in any scope: plugins, metrics, checks, and analyses (an
    analysis with a ``fail`` threshold counts as required: it can fail the submission)."""
    found = [r.id for r in manifest.plugin_requests if r.required]
    for key in manifest.phase_keys():
        plan = manifest.plan(key)
        found += [m.key for m in plan.metrics if m.required] + [c.use for c in plan.checks if c.required]
        found += [a.key for a in plan.analyses if a.required or any(t.action == "fail" for t in a.thresholds)]
    return sorted(set(found))


def _vendor(lib: Path, manifest: Manifest, target: TargetImage) -> Vendored:
    from ..core.errors import VendorError
    from .vendor import vendor

    try:
        return vendor(lib, manifest.plugin_ids, target)
    except VendorError as error:
        raise WrapRefused([str(error)]) from None


def _scorer_pages(tree: Path, bundle: Any, plans: list[_Plan]) -> list[str]:
    """The ``*.html`` names the scoring programs' own files mention (pages they may write)."""
    base = tree / PurePosixPath(bundle.spec_name).parent
    found: set[str] = set()
    for plan in plans:
        if plan.role == "scoring":
            found |= set(html_pages_mentioned(base / plan.path))
    return sorted(found)


# -- one program ----------------------------------------------------------------------

def _wrap_program(location: Path, plan: _Plan, record: WrapRecord, lib: Path, manifest_bytes: bytes,
                  platform: str) -> WrappedProgram:
    """Wrap the program at ``location`` (a folder, or a zip replaced by its wrapped copy)."""
    if location.is_dir():
        return _wrap_folder(location, plan, record, lib, manifest_bytes, platform)
    with tempfile.TemporaryDirectory(prefix="aibench-program-") as scratch:
        folder = Path(scratch) / "program"
        try:
            with zipfile.ZipFile(location) as archive:
                _safe_extract(archive, folder)
        except zipfile.BadZipFile as error:
            raise WrapRefused([f"{plan.role} program {plan.path!r} is not a valid zip ({error})"]) from None
        wrapped = _wrap_folder(_program_root(folder, platform), plan, record, lib, manifest_bytes, platform)
        location.unlink()
        _zip_tree(folder, location)
    return wrapped


def _wrap_folder(folder: Path, plan: _Plan, record: WrapRecord, lib: Path, manifest_bytes: bytes,
                 platform: str) -> WrappedProgram:
    from codalab_worker_compat import MetadataError, metadata_path, read_metadata

    worker: Worker = "v1" if platform == "v1" else "codabench"
    where = f"{plan.role} program {plan.path!r}"
    try:
        metadata = read_metadata(folder, worker)
    except MetadataError as error:
        raise WrapRefused([f"{where}: {error}"]) from None
    path = metadata_path(folder, worker)
    if metadata is None or path is None or not metadata.commands:
        raise WrapRefused([f"{where} has no metadata command to wrap; the worker would run nothing"])
    if (folder / RUNTIME_DIR).exists():
        raise WrapRefused([f"{where} already holds {RUNTIME_DIR}/: it was wrapped before; wrap the original bundle"])
    originals = list(metadata.commands)
    if plan.perturbations is not None and "$input" not in originals[-1]:
        raise WrapRefused([f"{where}: its command ({originals[-1]!r}) does not receive $input, and the manifest "
                           "declares aibench.input_perturbations: the wrapped runtime re-runs the command with $input replaced "
                           "by a perturbed copy of the input data. Organiser: pass $input to the command (for example "
                           "'python3 $ingestion_program/ingestion.py $input $output $submission_program') and read "
                           "the input data from that argument rather than from a fixed path"])
    commands = [*originals[:-1], _wrapped_command(originals[-1], plan.role, platform, plan.perturbations is not None)]
    _rewrite_metadata(path, commands, where)
    rewritten = read_metadata(folder, worker)
    if rewritten is None or list(rewritten.commands) != commands:
        raise WrapRefused([f"{where}: the rewritten metadata does not read back as the wrapped command"])
    home = folder / RUNTIME_DIR
    home.mkdir()
    shutil.copyfile(BOOTSTRAP, home / "run.py")
    zip_lib(lib, home / LIB_ZIP)
    (home / MANIFEST_NAME).write_bytes(manifest_bytes)
    replace(record, original_commands=originals).write(home)
    return WrappedProgram(plan.path, plan.role, [int(p["number"]) for p in plan.phases], originals, commands)


def _wrapped_command(original: str, role: Role, platform: str, perturbed: bool = False) -> str:
    program = "$program" if platform == "v1" else "/app/program"
    args = "score $input $output" if role == "scoring" else "ingest $output $input" if perturbed else "ingest $output"
    if platform == "v1" and role == "scoring":
        original = original.strip()  # the v1 worker strips program commands (§4.5)
    return f"python3 {program}/{RUNTIME_DIR}/run.py {args} -- {original}"


def _rewrite_metadata(path: Path, commands: list[str], where: str) -> None:
    import yaml
    from codalab_worker_compat import load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8"), yaml.SafeLoader)  # alias bombs refused
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise WrapRefused([f"{where}: {path.name} cannot be rewritten safely ({error})"]) from None
    if not isinstance(data, dict):
        raise WrapRefused([f"{where}: {path.name} is not a mapping"])
    data["command"] = commands[0] if isinstance(data.get("command"), str) or len(commands) == 1 else commands
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6), encoding="utf-8")


def _program_root(folder: Path, platform: str) -> Path:
    """Where a program zip's files are: v1 hoists a single top folder holding ``metadata`` (§8.9)."""
    entries = [p for p in folder.iterdir() if p.name != "__MACOSX"]
    if platform == "v1" and len(entries) == 1 and entries[0].is_dir() and (entries[0] / "metadata").exists():
        return entries[0]
    return folder


# -- files ----------------------------------------------------------------------------

def _unpack_bundle(bundle: Any, tree: Path) -> None:
    source = Path(bundle.path)
    if source.is_dir():
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__"))
        return
    with zipfile.ZipFile(source) as archive:
        _safe_extract(archive, tree)


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if not destination.is_relative_to(root):
            raise WrapRefused([f"zip member {member.filename!r} points outside the archive"])
    archive.extractall(target)


def _zip_tree(tree: Path, output: Path, *, first: str | None = None) -> None:
    """Zip ``tree`` with sorted members (``first`` leading: the v1 site takes the first
    member whose name contains ``.yaml`` as the spec, §2.1)."""
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    if first in files:
        files.remove(first)
        files.insert(0, first)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(tree / name, name)


def _check_result(output: Path, report: WrapReport) -> None:
    """The wrapped bundle loads, validates, and declares every plugin column."""
    from codalab_worker_compat import load_bundle

    from ..manifest.validate import validate_bundle

    bundle = load_bundle(output)
    validation = validate_bundle(output, bundle=bundle)
    problems = [f"the wrapped bundle fails validation: {p}" for p in validation.errors]
    declared = {c.key for c in bundle.columns}
    problems += [f"column {c.key!r} is missing from the wrapped competition.yaml" for c in report.columns
                 if c.key not in declared]
    if problems:
        output.unlink()
        raise WrapRefused(problems)
