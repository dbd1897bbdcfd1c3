"""``aibench validate``: a bundle's layout, its manifest, and the plugins it needs,
every problem reported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.host import PluginHost
from ..core.records import PluginRecord
from .loading import MANIFEST_NAME, Manifest, parse_manifest, semantic_problems
from ..core.problems import Problem, Severity

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle

REPORT_VERSION = 1


@dataclass
class ValidationReport:
    """The outcome of validating a bundle. ``ok`` is true when no problem is an error."""

    bundle: str
    platform: str | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    manifest_sha256: str | None = None
    problems: list[Problem] = field(default_factory=list)
    plugins: list[PluginRecord] = field(default_factory=list)
    #: the validated manifest and the plugin host that loaded its plugins (not in the JSON)
    manifest: Manifest | None = field(default=None, repr=False)
    host: PluginHost | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        """The documented ``aibench validate --json`` shape (docs/cli.md)."""
        return {
            "report_version": REPORT_VERSION,
            "bundle": self.bundle,
            "ok": self.ok,
            "platform": self.platform,
            "phases": self.phases,
            "manifest_sha256": self.manifest_sha256,
            "problems": [p.to_json() for p in self.problems],
            "plugins": [r.to_json() for r in self.plugins],
        }


def validate_bundle(path: str | Path, *, strict: bool | None = None, bundle: Bundle | None = None) -> ValidationReport:
    """Validate the bundle at ``path`` (folder or zip) and its ``aibench.json``; ``bundle`` is the
    bundle already loaded from ``path`` (``aibench run`` and ``aibench wrap`` load it once). Every
    fault of the bundle or the manifest is a problem of the report; nothing is raised for their
    content."""
    from codalab_worker_compat import BundleError, load_bundle

    report = ValidationReport(str(path))
    if bundle is None:
        try:
            bundle = load_bundle(path)
        except BundleError as error:
            report.problems.append(Problem("", error.message, file=error.file, line=error.line, fix=error.fix))
            return report
    report.platform = bundle.platform
    report.phases = [{"number": p.number, "name": p.name} for p in bundle.phases]
    report.problems += bundle_problems(bundle)

    manifest_name = sibling(bundle.spec_name, MANIFEST_NAME)
    if not bundle.exists(MANIFEST_NAME):
        report.problems.append(Problem("", f"no {MANIFEST_NAME} next to {bundle.spec_name}: the bundle is checked "
                                           "as the platform runs it, with no plugin.", file=manifest_name,
                                       severity="warning",
                                       fix="to add metrics or checks, create one ('aibench schema' prints the "
                                           "format; the organiser's choice)"))
        return report
    manifest, structural = parse_manifest(bundle.read_bytes(manifest_name), manifest_name)
    if manifest is None:
        report.problems += structural
        return report
    report.manifest_sha256 = manifest.sha256

    host = PluginHost(strict=strict, raise_failures=False)
    host.load_builtins()
    requests = [r for i, r in enumerate(_requests(manifest)) if not _broken(structural, f"/plugins/{i}")]
    host.load_requested(requests, record_skipped=True)
    host.freeze()
    report.manifest, report.host = manifest, host
    report.plugins = host.sorted_records()
    found = structural + _plugin_problems(manifest, host) + semantic_problems(manifest, host, bundle, structural)
    report.problems += sorted(found, key=lambda p: (p.line or 0, p.column or 0, p.pointer))
    return report


def bundle_problems(bundle: Bundle) -> list[Problem]:
    """Every static problem of the bundle itself, as ``aibench run`` would meet it: the checks of
    :func:`codalab_worker_compat.check_bundle` (programs unpacked as the worker unpacks them, their
    metadata and commands, missing parts, the image) and the reference data the prediction step
    could see. Run before any submission by ``aibench validate`` and ``aibench run`` alike."""
    import tempfile

    from codalab_worker_compat import check_bundle, reference_exposures

    from .loading import unpack_limits

    with tempfile.TemporaryDirectory(prefix="aibench-validate-") as scratch:
        found = check_bundle(bundle, Path(scratch), limits=unpack_limits(bundle))
    problems = [Problem("", p.message, file=p.file, fix=p.fix, severity=p.severity) for p in found]
    return problems + [Problem("", w, file=bundle.spec_name, severity="warning",
                               fix="run ingestion in the prediction step; only the scoring program reads the "
                                   "reference data") for w in reference_exposures(bundle)]


def _requests(manifest: Manifest) -> list[Any]:
    plugins = manifest.document.get("plugins")
    if not isinstance(plugins, list):
        return []
    return [_request(p) for p in plugins]


def _request(plugin: Any) -> Any:
    from ..core.records import PluginRequest

    if not isinstance(plugin, dict) or not isinstance(plugin.get("id"), str):
        return PluginRequest("")
    return PluginRequest(plugin["id"], plugin.get("requirement") if isinstance(plugin.get("requirement"), str) else None,
                         plugin.get("required") is True)


def _plugin_problems(manifest: Manifest, host: PluginHost) -> list[Problem]:
    """A problem for each named plugin that is missing or failed: an error when the
    manifest requires it (or in strict mode), otherwise a warning."""
    problems = []
    plugins = manifest.document.get("plugins")
    index = {p.get("id"): i for i, p in enumerate(plugins if isinstance(plugins, list) else [])
             if isinstance(p, dict) and isinstance(p.get("id"), str)}
    for record in host.failed():
        at = f"/plugins/{index[record.id]}" if record.id in index else ""
        line, column = manifest.positions.get(at, (None, None))
        severity: Severity = "error" if record.required or host.strict else "warning"
        what = "is not available" if record.status == "missing" else "failed to load"
        consequence = "" if severity == "error" else " Scoring goes on without it (it is not required)."
        problems.append(Problem(at, f"plugin {record.id!r} {what}: {record.reason}.{consequence}",
                                file=manifest.file, line=line, column=column, plugin=record.id, severity=severity))
    return problems


def _broken(problems: list[Problem], at: str) -> bool:
    return any(p.pointer == at or p.pointer.startswith(at + "/") for p in problems)


def sibling(spec_name: str, name: str) -> str:
    """``name`` in the folder of the bundle's spec file (the manifest sits next to it)."""
    parent = str(Path(spec_name).parent)
    return name if parent == "." else f"{parent}/{name}"


