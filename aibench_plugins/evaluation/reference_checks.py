"""The reference side of a manifest, checked before any submission: what the evaluation session
would read of each phase's reference data (``input/ref``), read the way it reads it.

For each phase (each task of a multi-task phase) with reference data, unpacked as the worker
unpacks it (:func:`codalab_worker_compat.unpack_part`, the run's own unpacking):

- every split's ``ids_file`` is a UTF-8 text file of the reference data (:func:`read_ids_file`,
  the session's reader);
- every reference table a metric of the phase reads is readable as declared (the session's
  :func:`~aibench_plugins.data.read_table`), and its columns fit the metric's inputs (a
  regression metric's ``value`` inputs must be numbers, not labels such as ``'setosa'``);
- every check's ``reference_file`` matches one readable file.

Each problem points at the manifest field (file, line, JSON pointer) and says that the fix is the
organiser's. :func:`validate_with_data` is what ``aibench validate`` and ``aibench run`` call.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ReadError
from ..core.kinds import Kind
from ..core.problems import Problem, pointer
from ..data.ids import read_ids_file
from ..manifest.validate import ValidationReport, validate_bundle

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle

    from ..core.host import PluginHost
    from ..manifest.loading import Manifest
    from ..manifest.plan import PhasePlan

__all__ = ["reference_problems", "validate_with_data"]

ORGANISER = "Organiser: "
#: input kinds whose values must be numbers
NUMERIC_KINDS = ("value", "score", "probability")


def validate_with_data(path: str | Path, *, strict: bool | None = None, bundle: Bundle | None = None
                       ) -> ValidationReport:
    """:func:`~aibench_plugins.manifest.validate.validate_bundle`, then, for a manifest without
    errors of its own (the bundle may have some), :func:`reference_problems`. Never raises for the
    bundle's content."""
    report = validate_bundle(path, strict=strict, bundle=bundle)
    manifest = report.manifest
    if manifest is not None and report.host is not None and \
            not any(p.severity == "error" and p.file == manifest.file for p in report.problems):
        from codalab_worker_compat import load_bundle

        report.problems += reference_problems(manifest, report.host, bundle or load_bundle(path))
    return report


def reference_problems(manifest: Manifest, host: PluginHost, bundle: Bundle) -> list[Problem]:
    """The problems of the reference-side files the manifest names, per phase (module docstring)."""
    from codalab_worker_compat import BundleError, unpack_part

    from ..manifest.loading import unpack_limits

    problems: list[Problem] = []
    worker = "v1" if bundle.platform == "v1" else "codabench"
    seen: set[tuple[str | None, str | None]] = set()
    with _scratch() as scratch:
        for phase in bundle.phases:
            plan = manifest.plan(manifest.phase_for(phase.number, phase.name))
            for programs in phase.tasks or (phase.programs,):
                target = programs.get("reference_data")
                if (plan.phase_key, target) in seen or not _names_reference(plan):
                    continue
                seen.add((plan.phase_key, target))
                where = f"phase {phase.number} ({phase.name}) reference_data {target!r}"
                if target is None:
                    problems.append(_problem(manifest, "", f"phase {phase.number} ({phase.name}) has no "
                                             "reference_data, but the manifest reads reference files.",
                                             fix=f"{ORGANISER}add reference_data to the phase in "
                                                 f"{bundle.spec_name}"))
                    continue
                try:
                    folder, _ = unpack_part(bundle, target, scratch / str(len(seen)), worker,  # type: ignore[arg-type]
                                            limits=unpack_limits(bundle), part=where)
                except BundleError:
                    continue  # the bundle's own problem, reported by its static checks
                problems += _phase_problems(manifest, host, plan, folder, where)
            if plan.submissions:
                for index, programs in enumerate(phase.tasks or (phase.programs,)):
                    problems += _gateway_input_problems(manifest, bundle, plan, phase, programs.get("input_data"),
                                                        scratch / f"inputs-{phase.number}-{index}", worker)
    return _unique(problems)


def _gateway_input_problems(manifest: Manifest, bundle: Bundle, plan: PhasePlan, phase: Any, target: str | None,
                            scratch: Path, worker: str) -> list[Problem]:
    """The hidden test inputs of API-integrated submissions (``submissions.inputs``): a CSV file of
    the phase's input data whose header holds the id and the columns sent."""
    from codalab_worker_compat import BundleError, unpack_part

    from ..manifest.loading import unpack_limits
    from ..core.problems import pointer

    spec = plan.submissions or {}
    at = pointer(*plan.submissions_at, "inputs", "file")
    name = str(spec["inputs"]["file"])
    where = f"phase {phase.number} ({phase.name})"
    fix = f"{ORGANISER}put the hidden test inputs, without labels, in the phase's input_data as {name!r}"
    if target is None:
        return [_problem(manifest, at, f"{where} has no input_data, but the gateway of API-integrated submissions "
                         f"reads its inputs from {name!r} there.", fix=fix)]
    try:
        folder, _ = unpack_part(bundle, target, scratch, worker,  # type: ignore[arg-type]
                                limits=unpack_limits(bundle), part=f"{where} input_data {target!r}")
    except BundleError:
        return []  # the bundle's own problem, reported by its static checks
    path = folder / name
    if not path.is_file():
        return [_problem(manifest, at, f"{where} input_data {target!r} has no file {name!r}.", fix=fix)]
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        header = [h.strip() for h in handle.readline().rstrip("\r\n").split(",")]
    wanted = [str(spec["inputs"].get("id", "id")), *map(str, spec["inputs"].get("columns") or ())]
    missing = [c for c in wanted if c not in header]
    if missing:
        return [_problem(manifest, at, f"{where} input_data {name!r} lacks the column(s) {', '.join(missing)} that "
                         f"the submissions section names (line 1 has {', '.join(header) or 'nothing'}).",
                         fix=f"{ORGANISER}name them in line 1 of {name!r}, or change submissions.inputs")]
    return []


def _phase_problems(manifest: Manifest, host: PluginHost, plan: PhasePlan, folder: Path, where: str
                    ) -> list[Problem]:
    return (_split_problems(manifest, plan, folder, where) + _table_problems(manifest, host, plan, folder, where)
            + _check_problems(manifest, plan, folder, where))


def _split_problems(manifest: Manifest, plan: PhasePlan, folder: Path, where: str) -> list[Problem]:
    """Each ``ids_file`` of a split some metric of the phase is computed on."""
    problems = []
    used = {split for metric in plan.metrics for split in metric.splits if split in plan.splits}
    for name in sorted(used):
        listed = plan.splits[name].get("ids_file")
        if isinstance(listed, str):
            try:
                read_ids_file(folder, listed)
            except ReadError as error:
                problems.append(_problem(manifest, pointer("splits", name, "ids_file"),
                                         f"split {name!r}: {error.message} ({where}).",
                                         fix=f"{ORGANISER}{error.fix or 'add the file or correct the path'}"))
    return problems


def _table_problems(manifest: Manifest, host: PluginHost, plan: PhasePlan, folder: Path, where: str
                    ) -> list[Problem]:
    """Each reference table a metric reads, read as the session reads it; and its fit to the metric."""
    from ..data import TableSpec, read_table

    problems: list[Problem] = []
    tables: dict[str, Any] = {}
    registry = host.registry(Kind.METRIC)
    for index, metric in enumerate(plan.metrics):
        if metric.use not in registry:  # a plugin that did not load: its own problem says so
            continue
        at = _entry_pointer(manifest, plan, "metrics", index)
        info = registry.get(metric.use).component.info
        for role in ("predictions", "references"):
            decl = plan.tables.get(metric.inputs[role])
            if decl is None or decl.source != "reference":
                continue
            if decl.name not in tables:
                try:
                    tables[decl.name] = read_table(folder, TableSpec(decl.file, id=decl.id, columns=list(decl.columns),
                                                                     **(decl.layout | decl.meaning)))
                except ReadError as error:
                    tables[decl.name] = error
                    problems.append(_problem(manifest, pointer("data", decl.name, "file"),
                                             f"reference table {decl.name!r}: {error} ({where}).",
                                             fix=f"{ORGANISER}correct the table's declaration under /data or the "
                                                 "file in the reference data"))
            table = tables[decl.name]
            if not isinstance(table, ReadError) and info.inputs[role].kind in NUMERIC_KINDS:
                problems += _fit_problems(manifest, at, metric.use, info.inputs[role].kind, decl.name, table)
    return problems


def _check_problems(manifest: Manifest, plan: PhasePlan, folder: Path, where: str) -> list[Problem]:
    """Each check's ``reference_file``, read as the check reads it."""
    from ..data import TableSpec, read_table

    problems = []
    for index, check in enumerate(plan.checks):
        reference_file = check.params.get("reference_file")
        if not isinstance(reference_file, str):
            continue
        ref_id = check.params.get("reference_id", check.params.get("id"))
        try:
            read_table(folder, TableSpec(reference_file, id=ref_id if isinstance(ref_id, str) else None,
                                         format=check.params.get("reference_format")))
        except ReadError as error:
            problems.append(_problem(manifest, f"{_entry_pointer(manifest, plan, 'checks', index)}/params/reference_file",
                                     f"check {check.use!r}: {error} ({where}).",
                                     fix=f"{ORGANISER}correct reference_file or add the file to the reference data"))
    return problems


def _fit_problems(manifest: Manifest, at: str, use: str, kind: str, name: str, table: Any) -> list[Problem]:
    """A metric whose input must be numbers, on a reference column that holds text."""
    import numpy as np

    found = []
    for column in table.columns:
        values = np.asarray(table.column(column))
        if values.dtype.kind in "biuf" or not values.size:
            continue
        try:
            values.astype(float)
        except (TypeError, ValueError):
            sample = next((v for v in values.tolist() if not _is_number(v)), values.tolist()[0])
            found.append(_problem(manifest, f"{at}/use", f"metric {use!r} takes numbers ({kind!r} inputs), but "
                                  f"column {column!r} of reference table {name!r} ({table.file}) holds text such as "
                                  f"{str(sample)[:40]!r}: it would fail on every submission.",
                                  expected="a metric for labels (such as 'aibench.accuracy') or a numeric column",
                                  found=repr(use),
                                  fix=f"{ORGANISER}choose a metric that fits the data ('aibench plugins list')"))
    return found


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _names_reference(plan: PhasePlan) -> bool:
    """Whether the phase's plan reads anything of the reference data."""
    return bool(plan.metrics) or any("reference_file" in c.params for c in plan.checks)


def _entry_pointer(manifest: Manifest, plan: PhasePlan, section: str, index: int) -> str:
    """The pointer of a plan's entry: under its phase's override when the override gives the section."""
    override = (manifest.document.get("phases") or {}).get(plan.phase_key) if plan.phase_key is not None else None
    if isinstance(override, Mapping) and section in override:
        return f"{pointer('phases', str(plan.phase_key))}/{section}/{index}"
    return f"/{section}/{index}"


def _problem(manifest: Manifest, at: str, message: str, **extra: Any) -> Problem:
    line, column = manifest.positions.get(at, (None, None))
    return Problem(at, message, file=manifest.file, line=line, column=column, **extra)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="aibench-reference-") as folder:
        yield Path(folder)

