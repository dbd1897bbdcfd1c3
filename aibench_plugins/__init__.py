"""aibench_plugins: add evaluation behaviour to CodaLab and Codabench competition
bundles through plugins, without editing the scoring program.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are
private and may change without notice.
"""

from __future__ import annotations

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
from ._version import __version__

__all__ = [
    "AibenchError",
    "CheckInfo",
    "Component",
    "ComponentInfo",
    "ComponentInfoError",
    "DuplicateIdError",
    "FunctionCheck",
    "FunctionMetric",
    "Kind",
    "Manifest",
    "ManifestError",
    "MetricInfo",
    "MissingPluginsError",
    "PluginError",
    "PluginHost",
    "PluginLoadError",
    "PluginRecord",
    "PluginRequest",
    "Problem",
    "Registration",
    "Registry",
    "RegistryError",
    "SubmissionProblem",
    "UnknownIdError",
    "ValidationReport",
    "__version__",
    "check",
    "hookimpl",
    "metric",
    "parse_manifest",
    "validate_bundle",
]
