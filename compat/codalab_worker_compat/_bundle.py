"""Competition bundles: a folder or a zip holding ``competition.yaml``.

What is read here, and the rule each reading follows (sections of
``docs/codalab-contract.md``):

- the spec file: v2 requires ``competition.yaml`` at the root (§3.1); the v1 site
  takes the first zip member whose name contains ``.yaml`` (§2.1);
- the version: ``str(spec.get("version", "1"))``; ``1`` and ``1.5`` are v1, ``2`` is
  v2, anything else is rejected (§3.1);
- phases: a v1 mapping sorted by ``phasenumber`` (§2.4), a v2 list sorted by
  ``index`` with programs taken from its tasks (§3.3, §3.5);
- leaderboard columns: v1 ``leaderboard.columns`` keyed by score key (§2.5), v2
  ``leaderboards[0].columns`` (§3.6: only the first leaderboard reaches phases).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from ._unpack_limits import DEFAULT_LIMITS, Breach, Budget, UnpackLimits, describe
from ._yaml import PlainDataLoader, load
from ._errors import CompatError

Platform = Literal["v1", "v2"]
SPEC_NAME = "competition.yaml"
MAX_SPEC_BYTES = 16 * 1024 * 1024  # read into memory whole: a larger spec is refused before reading
_PROGRAM_FIELDS = ("scoring_program", "ingestion_program", "reference_data", "input_data")


class BundleError(CompatError):
    """A bundle cannot be read. ``file`` and ``line`` locate the cause when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 fix: str | None = None) -> None:
        self.message, self.file, self.line, self.fix = message, file, line, fix
        where = ":".join(str(p) for p in (file, line) if p is not None)
        super().__init__(f"{where}: {message}" + (f" Fix: {fix}" if fix else "") if where else message)


@dataclass(frozen=True)
class BundleProblem:
    """Something in a readable bundle that a platform would reject or mishandle."""

    file: str
    message: str
    fix: str | None = None
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True)
class Phase:
    """A phase as the platform orders it.

    ``number`` is the v1 ``phasenumber`` or the v2 position after sorting by
    ``index`` (0-based, as Codabench re-indexes phases).
    """

    number: int
    name: str
    execution_time_limit: int
    programs: Mapping[str, str] = field(default_factory=dict)
    #: v1 ``is_scoring_only`` (default True, §2.4): no prediction step. Always False on v2 (§5.2).
    scoring_only: bool = False
    #: v2 task ``ingestion_only_during_scoring`` (§3.3): ingestion runs beside the scorer.
    ingestion_only_during_scoring: bool = False
    #: v2: the programs and data of each task of the phase, in order. Codabench runs each task
    #: as its own child submission (§5.2); ``programs`` holds the first task's.
    tasks: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class Column:
    """A leaderboard column: ``key`` is the score key the scoring program must emit.

    v2 computed columns (§3.6) have ``computation`` (``avg``, ``sum``, ``min``, ``max``)
    over the columns whose ``index`` is in ``computation_indexes``; v1 computed columns
    (§2.5) work on ranks across submissions, ``computation`` holds their operation.
    """

    key: str
    title: str
    sorting: Literal["asc", "desc"] = "desc"
    precision: int = 2
    index: int | None = None
    computation: str | None = None
    computation_indexes: tuple[int, ...] = ()
    hidden: bool = False


@dataclass
class Bundle:
    """A competition bundle opened for reading (folder or zip)."""

    path: Path
    spec_name: str
    spec: dict[str, Any]
    platform: Platform
    version: str
    phases: list[Phase]
    columns: list[Column]
    _names: frozenset[str]

    def exists(self, name: str) -> bool:
        """Whether ``name`` (a path relative to the spec file) is a file or folder of the bundle
        (an empty folder counts: Codabench zips it as an empty archive)."""
        name = _clean(self._relative(name))
        if self.path.is_dir() and (self.path / name).exists():
            return True
        return name in self._names or any(n.startswith(name + "/") for n in self._names)

    def read_bytes(self, name: str) -> bytes:
        """Content of a file of the bundle, by path relative to the bundle root."""
        if self.path.is_dir():
            return (self.path / name).read_bytes()
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(name)

    def materialize(self, name: str, scratch: Path, limits: UnpackLimits = DEFAULT_LIMITS) -> Path:
        """A local path for ``name`` (relative to the spec file): the folder or file itself
        for a folder bundle; for a zip bundle, the member file or folder extracted under
        ``scratch``, streamed within ``limits``. Raises :class:`BundleError` when the bundle
        has no such entry or its members go over the limits."""
        relative = _clean(self._relative(name))
        if not self.exists(name):
            raise BundleError(f"{name!r} is not in the bundle", file=self.spec_name,
                              fix="a dataset key on the server cannot be run locally; put the files in the bundle")
        if self.path.is_dir():
            return self.path / relative
        target = scratch / relative
        budget = Budget(limits)
        with zipfile.ZipFile(self.path) as archive:
            members = [i for i in archive.infolist()
                       if (i.filename == relative or i.filename.startswith(relative + "/")) and not i.is_dir()]
            try:
                budget.check_members(members, sum(i.compress_size for i in members))
                for member in members:
                    destination = (scratch / member.filename).resolve()
                    if not destination.is_relative_to(scratch.resolve()):
                        raise BundleError(f"zip member {member.filename!r} points outside the bundle",
                                          file=str(self.path))
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, destination.open("wb") as out:
                        budget.copy(source, out, member.filename)
            except Breach as breach:
                raise BundleError(describe(breach, self.path.name, "organiser", repr(name)),
                                  file=str(self.path)) from None
        return target

    def problems(self) -> list[BundleProblem]:
        """Programs and data that phases point to but the bundle lacks."""
        found = []
        for phase in self.phases:
            for field_name, target in phase.programs.items():
                if self.platform == "v1" and not target.endswith(".zip"):
                    found.append(BundleProblem(self.spec_name,
                        f"phase {phase.number} {field_name} {target!r} is not a .zip path, so the v1 site "
                        "looks it up as an existing dataset key on the server",
                        fix="Organiser: zip the part and name the .zip, unless it is a dataset key on the server",
                        severity="warning"))
                elif not self.exists(target) and not _looks_like_key(target):
                    found.append(BundleProblem(self.spec_name,
                        f"phase {phase.number} ({phase.name}) {field_name} {target!r} is not in the bundle",
                        fix=f"Organiser: add {target!r} next to {self.spec_name} or correct the path"))
            if "scoring_program" not in phase.programs:
                found.append(BundleProblem(self.spec_name, f"phase {phase.number} ({phase.name}) has no scoring_program",
                                           fix="Organiser: declare the scoring program of the phase"))
        return found

    def _relative(self, name: str) -> str:
        base = PurePosixPath(self.spec_name).parent
        return str(base / name) if str(base) != "." else name


def load_bundle(path: str | Path) -> Bundle:
    """Open the bundle at ``path`` (a folder or a ``.zip``) and read its spec.

    Raises :class:`BundleError`, and nothing else, when there is no spec, it is not valid YAML
    (custom or Python tags, unhashable keys, aliases that expand past a bound), its version is
    unknown, or a field the site reads has the wrong type (a phase list that is not a list, a
    time limit that is not an integer). Other unexpected fields are ignored, as the sites do.
    """
    path = Path(path)
    if path.is_dir():
        names = frozenset(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        if SPEC_NAME not in names:
            raise BundleError(f"no {SPEC_NAME} at the root of {path}", file=str(path),
                              fix=f"point at the folder that holds {SPEC_NAME}")
        spec_name = SPEC_NAME
        text = (path / spec_name).read_bytes()
    elif path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
                # v1 site rule: the first member whose name contains ".yaml" (§2.1).
                candidates = [SPEC_NAME] if SPEC_NAME in members else [m for m in members if ".yaml" in m]
                if not candidates:
                    raise BundleError(f"no {SPEC_NAME} in {path.name}", file=str(path),
                                      fix=f"zip the bundle so that {SPEC_NAME} is at the root of the archive")
                spec_name = candidates[0]
                size = archive.getinfo(spec_name).file_size
                if size > MAX_SPEC_BYTES:
                    raise BundleError(f"{spec_name} is {size:,} bytes uncompressed, over the {MAX_SPEC_BYTES:,} bytes "
                                      "a competition spec may have here; it was not read", file=str(path),
                                      fix="a competition.yaml is a few kilobytes: check that the right file is zipped")
                text = archive.read(spec_name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise BundleError(f"{path.name} is not a valid zip file ({error})", file=str(path)) from None
        except (NotImplementedError, RuntimeError, ValueError, OSError) as error:  # encrypted, unknown method
            raise BundleError(f"{path.name}: {spec_name} cannot be read from the zip ({error})", file=str(path),
                              fix="zip the bundle without encryption, with deflate or no compression") from None
        names = frozenset(m for m in members if not m.endswith("/"))
    else:
        raise BundleError(f"{path} does not exist", file=str(path))
    spec, tagged = _parse_spec(text, spec_name)
    version = str(spec.get("version", "1"))
    if version in ("1", "1.5"):
        platform: Platform = "v1"
        phases, columns = _v1_phases(spec), _v1_columns(spec)
    elif version == "2":
        platform = "v2"
        if tagged:  # the v2 site is Codabench, whose safe_load refuses the tag (§3.1): the upload fails
            line = next((n for n, row in enumerate(text.decode("utf-8", "replace").splitlines(), 1)
                         if "!!python/" in row), None)
            raise BundleError(f"{spec_name} has a !!python/ tag, which Codabench's yaml.safe_load refuses: the site "
                              "would not accept this bundle (only the v1 site's full_load reads such tags, §3.1)",
                              file=spec_name, line=line,
                              fix="Organiser: write the plain value instead (!!python/unicode 'x' is just 'x')")
        phases, columns = _v2_phases(spec), _v2_columns(spec)
    else:
        raise BundleError(f"unknown bundle version {version!r}", file=spec_name,
                          fix="use version: 2 for Codabench bundles, or omit it for CodaLab (v1) bundles")
    return Bundle(path, spec_name, spec, platform, version, phases, columns, names)


def _parse_spec(text: bytes, name: str) -> tuple[dict[str, Any], bool]:
    """The spec as the site reads it, and whether it needed a ``!!python/`` tag: v2's
    ``safe_load``; when a tag refuses it, v1's ``full_load`` for the plain-data ``!!python/`` tags
    of old CodaLab dumps (§3.1), never evaluating one. Aliases are bounded (``_yaml``). Raises
    only :class:`BundleError`."""
    tagged = False
    try:
        try:
            spec = load(text, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.constructor.ConstructorError:
            spec, tagged = load(text, PlainDataLoader), True
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or error
        raise BundleError(f"{name} is not valid YAML: {problem}", file=name, line=mark.line + 1 if mark else None,
                          fix="the sites read it with a safe YAML loader: plain mappings, lists and scalars, no "
                              "custom or Python tags, keys that are scalars, anchors and aliases only to share a few "
                              "small mappings") from None
    if not isinstance(spec, dict):
        raise BundleError(f"{name} must hold a mapping at the top level, found {type(spec).__name__}", file=name)
    return spec, tagged


def _int(value: Any, where: str, default: int) -> int:
    """``int(value or default)`` as the sites' integer fields take it; :class:`BundleError` otherwise."""
    if not value:
        return default
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 100:
        return int(value)
    raise BundleError(f"{where} is {str(value)[:60]!r}, not an integer: the site refuses the bundle", file=SPEC_NAME,
                      fix=f"write {where} as a whole number")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BundleError(f"{where} is {_kind(value)}, not a mapping: the site cannot read it",
                          file=SPEC_NAME, fix=f"write {where} as a mapping (key: value lines)")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleError(f"{where} is {_kind(value)}, not a list: the site cannot read it",
                          file=SPEC_NAME, fix=f"write {where} as a list ('- ' items)")
    return value


def _kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _v1_phases(spec: Mapping[str, Any]) -> list[Phase]:
    raw = spec.get("phases") or {}
    items = raw.values() if isinstance(raw, Mapping) else _list(raw, "phases")
    phases = []
    for position, phase in enumerate(items, start=1):
        if not isinstance(phase, Mapping):
            continue
        where = f"phase {position}"
        programs = {f: str(phase[f]) for f in _PROGRAM_FIELDS if phase.get(f)}
        phases.append(Phase(_int(phase.get("phasenumber", position), f"{where} phasenumber", position),
                            str(phase.get("label", "")),
                            _int(phase.get("execution_time_limit"), f"{where} execution_time_limit", 300), programs,
                            scoring_only=bool(phase.get("is_scoring_only", True))))
    return sorted(phases, key=lambda p: p.number)


def _v2_phases(spec: Mapping[str, Any]) -> list[Phase]:
    tasks: dict[int, Mapping[str, Any]] = {}
    for position, task in enumerate(_list(spec.get("tasks"), "tasks")):
        if isinstance(task, Mapping):
            tasks.setdefault(_int(task.get("index"), f"tasks[{position}] index", 0), task)
    raw = [p for p in _list(spec.get("phases"), "phases") if isinstance(p, Mapping)]
    indexed = [(_int(p.get("index"), f"phases[{i}] index", 0), i, p) for i, p in enumerate(raw)]
    phases = []
    for number, (_, position, phase) in enumerate(sorted(indexed, key=lambda item: item[:2])):
        where = f"phases[{position}]"
        indexes = [_int(i, f"{where} tasks", 0) for i in _list(phase.get("tasks"), f"{where} tasks")]
        per_task = tuple({f: str(task[f]) for f in _PROGRAM_FIELDS if task.get(f)}
                         for task in (tasks.get(index, {}) for index in indexes))
        first = next((tasks.get(index, {}) for index in indexes), {})
        phases.append(Phase(number, str(phase.get("name", "")),
                            _int(phase.get("execution_time_limit"), f"{where} execution_time_limit", 600),
                            per_task[0] if per_task else {},
                            ingestion_only_during_scoring=bool(first.get("ingestion_only_during_scoring", False)),
                            tasks=per_task))
    return phases


def _v1_columns(spec: Mapping[str, Any]) -> list[Column]:
    columns = _mapping(_mapping(spec.get("leaderboard"), "leaderboard").get("columns"), "leaderboard.columns")
    found = []
    for position, (key, c) in enumerate(columns.items(), start=1):
        if not isinstance(c, Mapping):
            continue
        computed = c.get("computed")
        found.append(Column(str(key), str(c.get("label") or key), "asc" if c.get("sort") == "asc" else "desc",
                            _int(c.get("numeric_format"), f"column {key!r} numeric_format", 2), position,
                            str(computed.get("operation")) if isinstance(computed, Mapping) else None,
                            hidden=bool(c.get("hidden", False))))
    return found


def _v2_columns(spec: Mapping[str, Any]) -> list[Column]:
    boards = _list(spec.get("leaderboards"), "leaderboards")
    if not boards or not isinstance(boards[0], Mapping):
        return []
    found = []
    for position, c in enumerate(_list(boards[0].get("columns"), "leaderboards[0].columns")):
        if not isinstance(c, Mapping):
            continue
        where = f"leaderboards[0].columns[{position}]"
        indexes = _list(c.get("computation_indexes"), f"{where} computation_indexes")
        found.append(Column(str(c.get("key")), str(c.get("title") or c.get("key")),
                            "asc" if c.get("sorting") == "asc" else "desc",
                            _int(c.get("precision"), f"{where} precision", 2),
                            int(c["index"]) if isinstance(c.get("index"), int) else position,
                            str(c["computation"]) if c.get("computation") else None,
                            tuple(_int(i, f"{where} computation_indexes", 0) for i in indexes),
                            bool(c.get("hidden", False))))
    return found


def _clean(name: str) -> str:
    cleaned = str(PurePosixPath(name))
    return "" if cleaned == "." else cleaned


def _looks_like_key(value: str) -> bool:
    """A dataset or task key (UUID) on the server rather than a path in the bundle."""
    stripped = value.replace("-", "")
    return len(stripped) == 32 and all(c in "0123456789abcdefABCDEF" for c in stripped)
