"""aibench_plugins: add evaluation behaviour to CodaLab and Codabench competition
bundles through plugins, without editing the scoring program.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are
private and may change without notice. Names are imported on first use, so that
``import aibench_plugins`` on a scoring worker costs only what the run needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "_check": ("FunctionCheck", "SubmissionProblem", "check"),
    "_components": ("CheckInfo", "Component", "ComponentInfo", "Kind", "MetricInfo"),
    "_exceptions": ("AibenchError", "ComponentInfoError", "DuplicateIdError", "ManifestError", "MissingPluginsError",
                    "PluginError", "PluginLoadError", "RegistryError", "UnknownIdError"),
    "_host": ("PluginHost", "PluginRecord", "PluginRequest"),
    "_manifest": ("Manifest", "parse_manifest"),
    "_markers": ("hookimpl",),
    "_metric": ("FunctionMetric", "metric"),
    "_problems": ("Problem",),
    "_registry": ("Registration", "Registry"),
    "_validate": ("ValidationReport", "validate_bundle"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_MODULE_OF, "__version__"])

if TYPE_CHECKING:
    from ._check import FunctionCheck, SubmissionProblem, check
    from ._components import CheckInfo, Component, ComponentInfo, Kind, MetricInfo
    from ._exceptions import (
        AibenchError,
        ComponentInfoError,
        DuplicateIdError,
        ManifestError,
        MissingPluginsError,
        PluginError,
        PluginLoadError,
        RegistryError,
        UnknownIdError,
    )
    from ._host import PluginHost, PluginRecord, PluginRequest
    from ._manifest import Manifest, parse_manifest
    from ._markers import hookimpl
    from ._metric import FunctionMetric, metric
    from ._problems import Problem
    from ._registry import Registration, Registry
    from ._validate import ValidationReport, validate_bundle


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
