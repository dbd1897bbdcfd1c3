"""The exceptions of aibench_plugins, one hierarchy (every error the package raises on
purpose is one of these; ``codalab_worker_compat`` has its own, under ``CompatError``)::

    AibenchError
    ├── ComponentInfoError          a plugin declared an invalid MetricInfo / CheckInfo / ...  (ValueError)
    ├── RegistryError
    │   ├── DuplicateIdError        two plugins registered the same id
    │   └── UnknownIdError          no component has that id ("did you mean ...")  (LookupError)
    ├── PluginError
    │   ├── PluginLoadError         a plugin failed to import or register and that is fatal
    │   ├── MissingPluginsError     plugins the manifest names are absent or the wrong version
    │   └── RegistrationError       a component cannot be registered
    │       ├── ComponentKindError      its info is not the type its kind needs  (TypeError)
    │       └── InvalidParamsSchemaError its params_schema does not compile  (ValueError)
    ├── ManifestError               the manifest or bundle has problems (all of them, listed)
    ├── UsageError                  an API called the wrong way: unknown params, compute()
    │                               before update(), an executor option it does not take  (TypeError)
    │   └── InvalidValueError       a value the API refuses  (ValueError too)
    │       └── InvalidParamsError  params a component's schema refuses
    ├── MetricInputError            inputs a metric cannot score  (ValueError)
    ├── DataError                   the data a run reads  (ValueError)
    │   ├── ReadError               a table cannot be read: file, line, fix
    │   ├── TableSpecError          a TableSpec is malformed
    │   └── PerturbationError       declared input perturbations cannot be applied
    ├── LedgerError                 the ledger cannot be used or written; ``reason`` says why
    ├── UnknownRunError             the ledger has no run with that id  (KeyError)
    ├── LimitsRefused               the executor cannot apply a limit that was set; nothing ran
    ├── RunError                    aibench could not complete a run; its record says so
    ├── RerunRefused                a recorded run cannot be run again: its record or inputs; nothing ran
    ├── SubmissionDescriptionError  a submission's endpoint.json is refused: file, JSON pointer, fix
    ├── WrapError
    │   ├── WrapRefused             the bundle cannot be wrapped safely; every reason listed
    │   ├── VendorError             a distribution cannot be copied into the bundle
    │   └── ColumnEditError         competition.yaml cannot take the plugin columns
    └── RuntimeRecordError          a wrapped bundle's record or manifest is not the one wrap wrote

Each carries the structured data its message was built from (attrs-style: the message says
what was expected and what was found, the attributes hold the same), so callers (and the
``--json`` output) need not parse text. Where a built-in exception type was raised before,
the class also derives from it, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pathlib import Path

    from .records import PluginRecord
    from .problems import Problem


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
    """No component is registered under an id.

    ``provider`` is the plugin the id would come from when one explains it (installed but not
    named in the manifest, failed to load, not installed), with the ``fix``; ``optional`` is
    true when that plugin is named and not required, so scoring goes on without the component.
    """

    def __init__(self, message: str, *, id: str, suggestions: Sequence[str], provider: PluginRecord | None = None,
                 fix: str | None = None, optional: bool = False) -> None:
        super().__init__(message)
        self.id = id
        self.suggestions = list(suggestions)
        self.provider, self.fix, self.optional = provider, fix, optional

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


class RegistrationError(PluginError):
    """A component cannot be registered; the plugin that tried is rolled back."""


class ComponentKindError(RegistrationError, TypeError):
    """A component registered under a kind carries the wrong info type."""

    def __init__(self, message: str, *, plugin: str, kind: str, expected: str, found: str) -> None:
        super().__init__(message)
        self.plugin, self.kind, self.expected, self.found = plugin, kind, expected, found


class InvalidParamsSchemaError(RegistrationError, ValueError):
    """A component's ``params_schema`` is not a valid JSON Schema."""

    def __init__(self, message: str, *, plugin: str, id: str, reason: str) -> None:
        super().__init__(message)
        self.plugin, self.id, self.reason = plugin, id, reason


class UsageError(AibenchError, TypeError):
    """An API of aibench_plugins was called the wrong way; the message says the right one."""


class InvalidValueError(UsageError, ValueError):
    """An argument of the right type whose value the API refuses."""


class InvalidParamsError(InvalidValueError):
    """``params`` that the component's params schema refuses."""


class MetricInputError(AibenchError, ValueError):
    """Inputs a metric cannot score (shapes that differ, labels outside the classes, no
    samples); raised inside ``update``/``compute`` and recorded as that metric's failure."""


class DataError(AibenchError, ValueError):
    """The data a run reads (tables, splits) is not what the manifest declares."""


class TableSpecError(DataError):
    """A :class:`~aibench_plugins.data.tables.TableSpec` is malformed (a bug of its caller)."""


class ReadError(DataError):
    """A table could not be read: what is wrong, in which file, on which line, and the fix.

    ``kind`` is one of ``missing_file``, ``several_files``, ``too_large``,
    ``missing_column``, ``unreadable`` (a line, record or array that cannot be parsed)
    and ``invalid`` (readable, but not what the spec declares). ``missing_columns``,
    ``found_columns`` and ``column_fixes`` (one fix per missing column, empty when one fix
    covers them all) are set for ``missing_column``; ``size`` (bytes) for ``too_large``.
    """

    def __init__(self, message: str, *, file: str, line: int | None = None, item: str | None = None,
                 fix: str | None = None, kind: str = "invalid", missing_columns: Sequence[str] = (),
                 found_columns: Sequence[str] = (), column_fixes: Sequence[str] = (),
                 size: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.item = item
        self.fix = fix
        self.kind = kind
        self.missing_columns = tuple(missing_columns)
        self.found_columns = tuple(found_columns)
        self.column_fixes = tuple(column_fixes)
        self.size = size
        where = file + (f":{line}" if line is not None else "")
        text = f"{where}: {message}"
        if item is not None:
            text += f" (id {item!r})"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


LedgerReason = Literal["full", "locked", "read-only", "corrupt", "io", "newer", "other"]


class PerturbationError(DataError):
    """A declared input perturbation cannot be applied (an unknown name, a severity out of 1-5, an
    input file or column that is not there); the message says what, where, and the organiser's fix."""


class LedgerError(AibenchError):
    """The ledger cannot be used, or not written. ``reason`` says why: ``full`` (no space on its
    file system), ``locked`` (another process held it past the busy timeout), ``read-only``,
    ``corrupt`` (damaged, or not an aibench ledger), ``io`` (a disk error), ``newer`` (written by
    a newer aibench) or ``other``; the message says what to do."""

    def __init__(self, message: str, reason: LedgerReason = "other") -> None:
        super().__init__(message)
        self.reason: LedgerReason = reason

    @property
    def writable_later(self) -> bool:
        """Whether the ledger can still be read (the failure is about writing it)."""
        return self.reason in ("full", "locked", "read-only", "io")


class UnknownRunError(AibenchError, KeyError):
    """The ledger has no run (or more than one) with that id."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class LimitsRefused(AibenchError):
    """The executor cannot apply a limit that was set; nothing ran.

    :param refusals: one message per limit (what, why, which executor can).
    :param sources: where each refused limit came from (``aibench.json /limits/pids``, ``--pids``).
    """

    def __init__(self, refusals: list[str], sources: Mapping[str, str]) -> None:
        self.refusals, self.sources = list(refusals), dict(sources)
        where = "; ".join(f"{name} from {source}" for name, source in self.sources.items())
        super().__init__("the run was refused before anything ran: " + " ".join(refusals)
                         + (f" (set by: {where}; a limit in aibench.json is the organiser's to change, a flag "
                            "is yours)" if where else ""))


class RunError(AibenchError):
    """aibench could not complete a run (a full disk, an error of its own): ``run_id`` names its
    record, closed as ``failed`` with ``message``; the traceback, when it could be written, is in
    ``<work_dir>/aibench/error.txt``."""

    def __init__(self, run_id: str, message: str, work_dir: Path) -> None:
        super().__init__(message)
        self.run_id, self.message, self.work_dir = run_id, message, work_dir


class WrapError(AibenchError):
    """``aibench wrap`` cannot produce the bundle."""


class WrapRefused(WrapError):
    """The bundle cannot be wrapped safely; ``reasons`` says why, each with its fix."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("aibench wrap refused the bundle:\n" + "\n".join(f"  - {r}" for r in self.reasons))


class VendorError(WrapError):
    """A distribution the wrapped bundle needs cannot be copied into it."""


class ColumnEditError(WrapError):
    """The columns cannot be added to this spec; the message says why and how to fix it."""


class RuntimeRecordError(AibenchError, ValueError):
    """The wrapped runtime's record (``wrap.json``) or manifest is not what ``aibench wrap`` wrote."""


class RerunRefused(AibenchError):
    """``aibench rerun`` will not run a recorded run again; nothing ran. ``problems``: one mapping
    per input that is missing or changed (``input``, ``path``, ``expected``, ``found``, ``fix``), or
    a record that cannot be run again (``input``: ``record``)."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.problems = list(problems)


class SubmissionDescriptionError(AibenchError):
    """A submission's ``endpoint.json`` (an API-integrated submission) is refused; the participant's
    fix. ``file`` is its name in the submission, ``problems`` one ``(JSON pointer, message)`` each,
    every message saying what was expected and what was found."""

    def __init__(self, file: str, problems: Sequence[tuple[str, str]]) -> None:
        self.file, self.problems = file, list(problems)
        listed = "; ".join(f"{pointer or '/'}: {message.rstrip('.')}" for pointer, message in self.problems)
        super().__init__(f"{file}: {listed}. Participant: fix {file} in your submission (docs/submissions-api.md "
                         f"says what it holds)")
