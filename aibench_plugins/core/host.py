"""The plugin host: loads built-in and allowlisted plugins, isolates failures, and
fills one registry per kind of component.

Loading rules, in order:

1. Built-in plugins always load; a failure there is a bug in aibench_plugins and
   is raised.
2. Third-party plugins load only when named (the manifest's ``plugins`` list is an
   allowlist). Every named plugin's PEP 508 requirement is checked against the
   installed distribution first; all missing required plugins are reported in one
   :class:`MissingPluginsError` before anything is imported.
3. Each plugin is imported and registered in isolation: an import error, a hook
   with a misspelled name (``check_pending``), an invalid component or a duplicate
   id rolls back that plugin alone and records it as failed. The failure is fatal
   when the manifest marks the plugin required, or when ``AIBENCH_STRICT_PLUGINS=1``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs as _hookspecs
from .kinds import KINDS, Kind
from .errors import (AibenchError, ComponentKindError, InvalidParamsSchemaError, MissingPluginsError,
                     PluginLoadError, UnknownIdError)
from .problems import did_you_mean
from .attribution import Provider, explain_unknown, provider_of
from .markers import PROJECT_NAME
from .records import PluginRecord, PluginRequest
from .registry import Registration, Registry

if TYPE_CHECKING:
    import importlib.metadata

BUILTIN_DISTRIBUTION = "aibench-plugins"
BUILTIN_PLUGINS: Mapping[str, str] = {
    "aibench.classification": "aibench_plugins.default_plugins.classification",
    "aibench.regression": "aibench_plugins.default_plugins.regression",
    "aibench.files": "aibench_plugins.default_plugins.files",
    "aibench.submission_checks": "aibench_plugins.default_plugins.submission_checks",
    "aibench.multilabel": "aibench_plugins.default_plugins.multilabel",
    "aibench.ranking": "aibench_plugins.default_plugins.ranking",
    "aibench.segmentation": "aibench_plugins.default_plugins.segmentation",
    "aibench.report_sections": "aibench_plugins.default_plugins.report_sections",
    "aibench.intervals": "aibench_plugins.default_plugins.intervals",
    "aibench.fairness": "aibench_plugins.default_plugins.fairness",
    "aibench.twins": "aibench_plugins.default_plugins.perturbed_copies",
    "aibench.input_perturbations": "aibench_plugins.default_plugins.input_perturbations",
    "aibench.complexity": "aibench_plugins.default_plugins.complexity",
    "aibench.executors": "aibench_plugins.executors.builtin",
}
"""Built-in plugin id -> module. Built-ins are plugins like any other."""

HOST_ONLY_BUILTINS = frozenset({"aibench.executors"})
"""Built-ins that only the host loads: a wrapped bundle's runtime runs inside the platform's
worker and starts no step itself, so it carries no executor (``aibench wrap`` does not vendor it)."""


def strict_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``AIBENCH_STRICT_PLUGINS`` asks for every plugin failure to be fatal."""
    return environ.get("AIBENCH_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name: the one plugin identifier used everywhere."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginHost:
    """Owns the pluggy manager, the plugin records and the registries.

    >>> host = PluginHost()
    >>> host.load_builtins()
    >>> host.registry(Kind.METRIC).get("aibench.accuracy").plugin
    'aibench.classification'
    """

    def __init__(self, *, strict: bool | None = None, raise_failures: bool = True,
                 check_schemas: bool = True, strict_reason: str | None = None) -> None:
        """:param strict: every plugin failure is fatal; defaults to ``AIBENCH_STRICT_PLUGINS``.
        :param strict_reason: why the host is strict, as a fatal failure's message says it
            (``"--strict was given"``); by default ``AIBENCH_STRICT_PLUGINS is set`` when it is
            set, else that the host was made strict.
        :param raise_failures: when false, fatal failures are recorded instead of raised
            (``aibench validate`` reports them all as problems).
        :param check_schemas: compile each component's params schema when it registers. The
            runtime of a wrapped bundle turns it off: it has no jsonschema_rs (compiled code),
            and ``aibench wrap`` checked the same components before vendoring them.
        """
        self.check_schemas = check_schemas
        self.strict = strict_from_env() if strict is None else strict
        #: why every failure is fatal, in the words of the messages that say so
        self.strict_reason = strict_reason or ("AIBENCH_STRICT_PLUGINS is set" if strict_from_env() else
                                               "the plugin host is strict (PluginHost(strict=True) or --strict)")
        self.raise_failures = raise_failures
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(_hookspecs)
        if os.environ.get("AIBENCH_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(sys.stderr.write)
            self.pm.enable_tracing()
        self.records: dict[str, PluginRecord] = {}
        self._registries = {kind: Registry(kind) for kind in Kind}
        self._frozen = False

    # -- public API -----------------------------------------------------------------

    def registry(self, kind: Kind) -> Registry:
        """The registry of one kind of component."""
        return self._registries[kind]

    def load_builtins(self, *, host_side: bool = True) -> None:
        """Import and register the built-in plugins (without :data:`HOST_ONLY_BUILTINS` unless
        ``host_side``). Their failure is a bug: it raises."""
        version = _builtin_version()
        for plugin_id, module_name in BUILTIN_PLUGINS.items():
            if not host_side and plugin_id in HOST_ONLY_BUILTINS:
                continue
            record = PluginRecord(plugin_id, BUILTIN_DISTRIBUTION, version, "loaded", builtin=True,
                                  required=True, entry_point=module_name)
            self._register(importlib.import_module(module_name), record)

    def register_plugin(self, plugin: object, plugin_id: str, *, distribution: str = "(in-process)",
                        version: str | None = None, required: bool = False) -> PluginRecord:
        """Register a plugin object directly (a module, class or instance with ``aibench_*``
        hook implementations), isolated like an entry point. Used by tests and by hosts
        embedding aibench; returns the plugin's record."""
        record = PluginRecord(plugin_id, distribution, version, "loaded", required=required)
        self._register(plugin, record)
        return self.records[plugin_id]

    def load_requested(self, requests: Sequence[PluginRequest], *, record_skipped: bool = False) -> None:
        """Load exactly the named third-party plugins (the manifest's allowlist).

        Installed plugins that are not named are never imported; with
        ``record_skipped`` they are recorded as ``skipped`` (a scan of every installed
        distribution, which a scoring run with no third-party plugin avoids). Raises :class:`MissingPluginsError` listing every required plugin
        that is absent or in the wrong version, before importing any of them.
        """
        if not requests and not record_skipped:
            return
        merged: dict[str, PluginRequest] = {}
        for request in requests:  # a plugin named twice loads once, required if either entry says so
            first = merged.setdefault(request.id, request)
            if request.required and not first.required:
                merged[request.id] = PluginRequest(first.id, first.requirement or request.requirement, True)
        requests = list(merged.values())
        installed = _installed_entry_points()
        present: list[tuple[PluginRequest, importlib.metadata.EntryPoint]] = []
        missing: list[PluginRecord] = []
        for request in requests:
            record, entry_point = self._check_requirement(request, installed)
            if entry_point is None:
                self.records[request.id] = record
                if request.required or self.strict:
                    missing.append(record)
            else:
                present.append((request, entry_point))
        if missing and self.raise_failures:
            lines = "\n".join(f"  - {r.id}: {r.reason}" for r in missing)
            raise MissingPluginsError(
                f"{len(missing)} plugin{'s' if len(missing) != 1 else ''} the manifest requires "
                f"{'are' if len(missing) != 1 else 'is'} not available:\n{lines}", records=missing)
        for request, entry_point in present:
            self._load_entry_point(entry_point, required=request.required)
        named = {r.id for r in requests}
        for name, entry_point in sorted(installed.items()):
            if record_skipped and name not in named:
                self.records[name] = PluginRecord(
                    name, _dist_name(entry_point), _dist_version(entry_point), "skipped",
                    reason="installed, but not named in the manifest's plugins list",
                    entry_point=entry_point.value)

    def load_all_installed(self) -> None:
        """Load every installed third-party plugin, each isolated (for diagnostics:
        ``aibench plugins list``). Scoring never does this; it uses the allowlist."""
        for _, entry_point in sorted(_installed_entry_points().items()):
            self._load_entry_point(entry_point, required=False)

    def builtin_namespaces(self) -> set[str]:
        """The namespaces (``aibench`` of ``aibench.accuracy``) of the built-in plugins' components."""
        return {r.id.split(".", 1)[0] for registry in self._registries.values() for r in registry
                if "." in r.id and r.plugin in BUILTIN_PLUGINS}

    def provider_of(self, id: str, kind: Kind) -> Provider | None:
        """The plugin an id that the ``kind`` registry does not hold would come from (a plugin not
        named in the manifest, one that failed, one not installed), or ``None``
        (:func:`~aibench_plugins.core.attribution.provider_of`)."""
        if id in self._registries[kind]:
            return None
        return provider_of(id, self.sorted_records(), self._registries[kind].ids(), self.builtin_namespaces())

    def unknown(self, kind: Kind, id: str) -> UnknownIdError:
        """The error for an id the ``kind`` registry does not hold: the plugin it would come
        from and what happened to it, with the fix (the line to add to ``plugins``, the reason
        a plugin did not load), or "did you mean" when no plugin explains it."""
        return explain_unknown(self._registries[kind], id, self.sorted_records(), self.builtin_namespaces())

    def freeze(self) -> None:
        """Freeze every registry: no component may be added once loading is over."""
        self._frozen = True
        for registry in self._registries.values():
            registry.freeze()

    def failed(self) -> list[PluginRecord]:
        """Records of plugins that failed or are missing, sorted by id."""
        return [r for r in self.sorted_records() if r.status in ("failed", "missing")]

    def sorted_records(self) -> list[PluginRecord]:
        return [self.records[k] for k in sorted(self.records)]

    # -- loading one plugin ---------------------------------------------------------

    def _check_requirement(
        self, request: PluginRequest, installed: Mapping[str, importlib.metadata.EntryPoint]
    ) -> tuple[PluginRecord, importlib.metadata.EntryPoint | None]:
        import importlib.metadata

        record = PluginRecord(request.id, request.id, None, "missing", required=request.required)
        try:
            version = importlib.metadata.version(request.id)
        except importlib.metadata.PackageNotFoundError:
            install = request.requirement or request.id
            record.reason = f"distribution {request.id!r} is not installed; install it with: pip install '{install}'"
            return record, None
        record.version = version
        if request.requirement:
            from packaging.requirements import Requirement

            specifier = Requirement(request.requirement).specifier
            if not specifier.contains(version, prereleases=True):
                record.reason = (f"version {version} is installed but the manifest requires "
                                 f"{request.requirement!r}; install it with: pip install '{request.requirement}'")
                return record, None
        entry_point = installed.get(request.id)
        if entry_point is None:
            record.reason = (f"distribution {request.id!r} {version} is installed but declares no entry point "
                             f"named {request.id!r} in group {PROJECT_NAME!r}")
            return record, None
        return record, entry_point

    def _load_entry_point(self, entry_point: importlib.metadata.EntryPoint, *, required: bool) -> None:
        record = PluginRecord(entry_point.name, _dist_name(entry_point), _dist_version(entry_point), "loaded",
                              required=required, entry_point=entry_point.value)
        if normalize(record.distribution) != entry_point.name:
            self._fail(record, f"entry point {entry_point.name!r} of distribution {record.distribution!r} must be "
                               f"named after its distribution; rename it to {normalize(record.distribution)!r}")
            return
        try:
            plugin = entry_point.load()
        except Exception as error:  # noqa: BLE001 - any import failure is isolated
            self._fail(record, f"import failed: {type(error).__name__}: {error}", error)
            return
        self._register(plugin, record)

    def _register(self, plugin: object, record: PluginRecord) -> None:
        """Register ``plugin`` and its components, all or nothing."""
        if self._frozen:
            self._fail(record, "plugins cannot be added once loading is over (the registries are frozen)")
            return
        try:
            self.pm.register(plugin, name=record.id)
        except Exception as error:  # noqa: BLE001 - pluggy validation errors, duplicates
            self._fail(record, f"registration failed: {type(error).__name__}: {error}", error)
            return
        try:
            self.pm.check_pending()
            staged = self._collect_components(plugin, record)
            self._check_duplicates(staged)
        except pluggy.PluginValidationError as error:  # a hook no spec declares: a misspelled name
            self.pm.unregister(plugin)
            self._fail(record, f"registration failed: {type(error).__name__}: {error}{_nearest_hook(error)}", error)
            return
        except Exception as error:  # noqa: BLE001 - isolate this plugin alone
            self.pm.unregister(plugin)
            self._fail(record, f"registration failed: {type(error).__name__}: {error}", error)
            return
        for registration in staged:
            self._registries[registration.kind].add(registration)
            record.provides.setdefault(registration.kind.value, []).append(registration.id)
        record.kinds = sorted(record.provides)
        for ids in record.provides.values():
            ids.sort()
        record.hooks = sorted({caller.name for caller in self.pm.get_hookcallers(plugin) or []})
        self.records[record.id] = record

    def _collect_components(self, plugin: object, record: PluginRecord) -> list[Registration]:
        staged: list[Registration] = []
        for kind in Kind:
            for impl in getattr(self.pm.hook, kind.hook).get_hookimpls():
                if impl.plugin is not plugin:
                    continue

                def register(component: Any, _kind: Kind = kind) -> None:
                    _check_component(component, _kind, record.id, schema=self.check_schemas)
                    staged.append(Registration(component, record.id, _kind))

                impl.function(**{name: register for name in impl.argnames})
        return staged

    def _check_duplicates(self, staged: Iterable[Registration]) -> None:
        """Raise :class:`DuplicateIdError` if a staged id is already registered or staged twice."""
        pending = {kind: Registry(kind) for kind in Kind}
        for registration in staged:
            self._registries[registration.kind].check_new(registration)
            pending[registration.kind].add(registration)

    def _fail(self, record: PluginRecord, reason: str, error: BaseException | None = None) -> None:
        record.status = "failed"
        record.reason = reason
        if error is not None:
            import traceback

            record.traceback = "".join(traceback.format_exception(error))
        self.records[record.id] = record
        if record.builtin:
            raise AibenchError(f"built-in plugin {record.id!r} failed: {reason}") from error
        if (record.required or self.strict) and self.raise_failures:
            why = "the manifest marks it required" if record.required else self.strict_reason
            raise PluginLoadError(
                f"plugin {record.id!r} ({record.distribution} {record.version}) failed and {why}: {reason}",
                records=[record]) from error


def _nearest_hook(error: pluggy.PluginValidationError) -> str:
    """``"; did you mean 'aibench_register_metrics'?"`` for the hook of ``error`` that no spec
    declares, naming the closest declared hook (or listing them when none is close)."""
    found = re.search(r"unknown hook '([^']+)'", str(error))
    if found is None:
        return ""
    hooks = sorted(name for name in dir(_hookspecs) if name.startswith(f"{PROJECT_NAME}_"))
    nearest = did_you_mean(found.group(1), hooks)
    if nearest is not None:
        return f"; did you mean {nearest!r}? Rename the function (or pass specname={nearest!r} to hookimpl)"
    return f"; the hooks are: {', '.join(hooks)}"


def _check_component(component: Any, kind: Kind, plugin: str, *, schema: bool = True) -> None:
    info = getattr(component, "info", None)
    expected = KINDS[kind].info
    if not isinstance(info, expected):
        raise ComponentKindError(
            f"plugin {plugin!r} registered {component!r} as a {kind.value}, but its 'info' is "
            f"{type(info).__name__}, expected {expected.__name__}", plugin=plugin, kind=kind.value,
            expected=expected.__name__, found=type(info).__name__)
    if not schema:
        return
    import jsonschema_rs

    try:
        jsonschema_rs.validator_for(dict(info.params_schema))
    except Exception as error:  # noqa: BLE001 - report any schema compilation error
        raise InvalidParamsSchemaError(
            f"{kind.value} {info.id!r}: params_schema is not a valid JSON Schema: {error}", plugin=plugin,
            id=info.id, reason=str(error)) from error


def _installed_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Entry points of group ``aibench`` by name, each once (the same distribution can be
    seen twice through a symlinked site-packages)."""
    import importlib.metadata

    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=PROJECT_NAME):
        found.setdefault(entry_point.name, entry_point)
    return found


def _dist_name(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return dist.metadata["Name"] if dist is not None else entry_point.name


def _dist_version(entry_point: importlib.metadata.EntryPoint) -> str | None:
    dist = entry_point.dist
    return dist.version if dist is not None else None


def _builtin_version() -> str:
    from .._version import __version__

    return __version__
