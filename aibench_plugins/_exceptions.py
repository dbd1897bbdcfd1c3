"""The exceptions of aibench_plugins, one hierarchy::

    AibenchError
    ├── ComponentInfoError      a plugin declared an invalid MetricInfo / CheckInfo / ...
    ├── RegistryError
    │   ├── DuplicateIdError    two plugins registered the same id
    │   └── UnknownIdError      no component has that id ("did you mean ...")
    ├── PluginError
    │   ├── PluginLoadError     a plugin failed to import or register and that is fatal
    │   └── MissingPluginsError plugins the manifest names are absent or the wrong version
    └── ManifestError           the manifest or bundle has problems (all of them, listed)

Each carries the structured data its message was built from, so callers (and the
``--json`` output) need not parse text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._problems import Problem
    from ._host import PluginRecord


class AibenchError(Exception):
    """Base class of every error aibench_plugins raises on purpose."""


class ComponentInfoError(AibenchError, ValueError):
    """A component's declarative info is invalid."""

    def __init__(self, message: str, *, field: str, expected: str, found: Any) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.found = found


class RegistryError(AibenchError):
    """A registry operation failed."""


class DuplicateIdError(RegistryError):
    """Two registrations used the same id."""

    def __init__(self, message: str, *, id: str, first: str, second: str) -> None:
        super().__init__(message)
        self.id = id
        self.first = first
        self.second = second


class UnknownIdError(RegistryError, LookupError):
    """No component is registered under an id."""

    def __init__(self, message: str, *, id: str, suggestions: Sequence[str]) -> None:
        super().__init__(message)
        self.id = id
        self.suggestions = list(suggestions)

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class PluginError(AibenchError):
    """Base class of plugin loading errors."""


class PluginLoadError(PluginError):
    """A plugin failed to import or register, and the failure is fatal (the manifest
    marks it required, or ``AIBENCH_STRICT_PLUGINS=1``)."""

    def __init__(self, message: str, *, records: Sequence[PluginRecord]) -> None:
        super().__init__(message)
        self.records = list(records)


class MissingPluginsError(PluginError):
    """Plugins the manifest requires are not installed, or not in the required version.
    Every missing plugin is listed, not only the first."""

    def __init__(self, message: str, *, records: Sequence[PluginRecord]) -> None:
        super().__init__(message)
        self.records = list(records)


class ManifestError(AibenchError):
    """A manifest (or the bundle around it) has problems; all of them are listed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found:"]
        lines += [f"  {p}" for p in errors]
        super().__init__("\n".join(lines))
