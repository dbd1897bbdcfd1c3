"""The manifest, ``aibench.json``: reading it, and the checks that need more than its
schema (component ids, their params, column keys, plugin requirements, phases)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.kinds import KINDS, Kind
from ..core.records import PluginRequest
from .analyses import analysis_problems
from .complexity import complexity_problems
from .plan import PhasePlan, column_key, default_splits, plan
from ..core.problems import Problem, did_you_mean, pointer
from .schema import manifest_problems, params_problems
from .efficiency import efficiency_problems

if TYPE_CHECKING:
    from codalab_worker_compat import Bundle, UnpackLimits

    from ..core.host import PluginHost

MANIFEST_NAME = "aibench.json"
#: deeper documents are refused before the schema (its validator stops at a recursion limit)
MAX_DEPTH = 64


@dataclass(frozen=True)
class Manifest:
    """A manifest whose structure passed the schema.

    :param document: the parsed JSON.
    :param sha256: hash of the file's bytes, recorded with every result as provenance.
    """

    document: Mapping[str, Any]
    file: str = MANIFEST_NAME
    sha256: str = ""
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _plans: dict[str | None, PhasePlan] = field(default_factory=dict, repr=False, compare=False)

    @property
    def plugin_requests(self) -> list[PluginRequest]:
        """The third-party plugins the manifest names (its allowlist)."""
        return [PluginRequest(p["id"], p.get("requirement"), bool(p.get("required", False)))
                for p in self.document.get("plugins", [])]

    def phase_key(self, phase: int | str | None) -> str | None:
        """The key of ``phases`` that applies to ``phase`` (given by number or name), if any."""
        if phase is None:
            return None
        overrides = self.document.get("phases", {})
        return str(phase) if str(phase) in overrides else None

    def phase_for(self, number: int | None, name: str | None) -> str | None:
        """The ``phases`` key of a bundle's phase: its number when the manifest has it, else its name.
        The one rule of phase resolution, used by ``aibench run``, ``aibench wrap`` and the runtime."""
        return self.phase_key(number) or self.phase_key(name)

    def plan(self, phase_key: str | None = None) -> PhasePlan:
        """What the manifest asks for the phase whose ``phases`` key is ``phase_key`` (``None``: the
        top level), resolved once (:class:`~aibench_plugins.manifest.plan.PhasePlan`)."""
        cached = self._plans.get(phase_key)
        if cached is None:
            cached = self._plans[phase_key] = plan(self.document, phase_key)
        return cached

    @property
    def plugin_ids(self) -> list[str]:
        """The ids of the third-party plugins the manifest names."""
        return [r.id for r in self.plugin_requests]

    @property
    def concepts(self) -> list[Mapping[str, Any]]:
        """The manifest's concepts (label, definition, parent), for the report."""
        return list(self.document.get("concepts") or [])

    def phase_keys(self) -> list[str | None]:
        """``None`` (the top level) and every key of ``phases``."""
        return [None, *self.document.get("phases", {})]

    def section(self, name: str, phase: int | str | None = None) -> Any:
        """The effective value of a section for a phase: the phase's override when it gives
        the section, otherwise the top-level value (``[]`` or ``None`` when absent)."""
        key = self.phase_key(phase)
        if key is not None and name in self.document["phases"][key]:
            return self.document["phases"][key][name]
        return self.document.get(name, None if name in ("executor", "limits", "submissions") else [])


def parse_manifest(data: bytes, file: str = MANIFEST_NAME) -> tuple[Manifest | None, list[Problem]]:
    """Parse and structurally validate manifest bytes.

    Returns the manifest (``None`` when it is not UTF-8 JSON holding an object: NaN, Infinity,
    lone surrogates, numbers over Python's digit limit and nesting past the recursion limit
    count as not JSON, as does nesting deeper than :data:`MAX_DEPTH`) and every schema problem. Never raises for any ``data``: every fault of
    the file is a :class:`Problem`.
    """
    from .positions import value_positions

    try:
        text = data.decode("utf-8-sig")
        document = json.loads(text, parse_constant=_refuse_constant)
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Problem("", f"not UTF-8 text ({error.reason} at byte {error.start}).", file=file,
                              fix="save the file as UTF-8")]
    except UnicodeEncodeError:
        return None, [Problem("", "a string holds a lone surrogate escape (such as \\ud800): it is not Unicode text.",
                              file=file, fix="write the character itself, or a valid surrogate pair")]
    except json.JSONDecodeError as error:
        return None, [Problem("", f"not valid JSON: {error.msg}.", file=file, line=error.lineno, column=error.colno,
                              fix="check the punctuation just before this position (commas, quotes, brackets)")]
    except RecursionError:
        return None, [Problem("", "not a manifest: its arrays or objects nest deeper than Python can read.",
                              file=file, fix="a manifest nests a few levels at most; remove the extra brackets")]
    except ValueError as error:  # an integer over Python's digit limit
        return None, [Problem("", f"not a manifest JSON number: {error}.", file=file,
                              fix="write numbers with at most a few digits")]
    if _depth(document) > MAX_DEPTH:
        return None, [Problem("", f"not a manifest: its arrays or objects nest deeper than {MAX_DEPTH} levels.",
                              file=file, fix="a manifest nests a few levels at most; remove the extra brackets")]
    if not isinstance(document, dict):
        return None, [Problem("", f"the manifest must be a JSON object, found {_json_kind(document)}.", file=file,
                              expected='an object such as {"schema_version": 1}', found=_json_kind(document),
                              fix='start from {"schema_version": 1}; \'aibench schema\' prints the format')]
    positions = value_positions(text)
    manifest = Manifest(document, file, hashlib.sha256(data).hexdigest(), positions)
    return manifest, manifest_problems(document, positions, file)


def _depth(document: Any) -> int:
    """How deeply ``document`` nests arrays and objects (iteratively: no recursion limit)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number (JSON has no NaN or Infinity)", name, 0)


def _json_kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array", type(None): "null"}
    return kinds.get(type(value), "a value")


def semantic_problems(manifest: Manifest, host: PluginHost, bundle: Bundle | None,
                      structural: Sequence[Problem] = ()) -> list[Problem]:
    """Problems the schema cannot see: unknown component ids (with "did you mean"),
    params against each plugin's schema, duplicate or clashing column keys, plugin
    requirements, phase keys that match no phase of the bundle, what the fairness, robustness and
    complexity entries name (:func:`~aibench_plugins.manifest.analyses.analysis_problems`), and where
    the complexity meters can run (:func:`~aibench_plugins.manifest.complexity.complexity_problems`).

    Entries that already have a structural problem are skipped, so one mistake gives
    one message. Never raises for a manifest :func:`parse_manifest` returned: a value of an
    unexpected type is left to the structural problems.
    """
    doc, file, positions = manifest.document, manifest.file, manifest.positions
    broken = {p.pointer for p in structural}
    problems: list[Problem] = []

    def add(at: str, message: str, **extra: Any) -> None:
        line, column = positions.get(at, (None, None))
        problems.append(Problem(at, message, file=file, line=line, column=column, **extra))

    def is_broken(at: str) -> bool:
        return any(b == at or b.startswith(at + "/") for b in broken)

    failed_plugins = [r.id for r in host.failed()]
    if isinstance(doc.get("plugins"), list):
        _plugin_problems(doc["plugins"], add, is_broken)

    scopes: list[tuple[str, Mapping[str, Any]]] = [("", doc)]
    if isinstance(doc.get("phases"), Mapping):
        scopes += [(pointer("phases", key), value) for key, value in doc["phases"].items()
                   if isinstance(value, Mapping)]
    original_columns = _original_column_keys(bundle)
    for base, scope in scopes:
        for row in KINDS.values():
            if row.section is None or row.section not in scope:
                continue
            if row.stage is None:  # accepted and then silently skipped would be a lie: refused until it runs
                add(f"{base}/{row.section}", f"the {row.section!r} section is not implemented yet: nothing in "
                    f"this version of aibench runs {row.plural}, so the section would be silently skipped.",
                    expected=f"no {row.section!r} section", found=f"a {row.section!r} section",
                    fix=f"remove it (the organiser's to fix); {row.plural} run once the version that implements "
                        "them is installed")
                continue
            entries = scope.get(row.section)
            if row.kind is Kind.EXECUTOR and isinstance(entries, Mapping):
                at = f"{base}/{row.section}"
                if isinstance(entries.get("use"), str) and not is_broken(at):
                    _executor_problems(entries, at, host, manifest, failed_plugins, add, problems)
                continue
            if not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                at = f"{base}/{row.section}/{index}"
                if (not isinstance(entry, Mapping) or not isinstance(entry.get("use"), str) or at in broken
                        or is_broken(f"{at}/use") or is_broken(f"{at}/params")):
                    continue
                _component_problems(entry, at, row.kind, host, manifest, failed_plugins, add, problems)
        metrics = scope.get("metrics")
        if isinstance(metrics, list):
            _column_problems(metrics, f"{base}/metrics", original_columns, host, add, is_broken, default_splits(doc))
    efficiency_problems(doc, host, original_columns, add, is_broken)
    for base, scope in scopes:
        if isinstance(scope.get("submissions"), Mapping) and not is_broken(f"{base}/submissions"):
            _submissions_problems(scope["submissions"], f"{base}/submissions", doc, add)
    analysis_problems(doc, host, original_columns, add, is_broken)
    complexity_problems(manifest, host, bundle, add, is_broken)
    problems += _data_problems(doc, positions, file, host, broken)
    if bundle is not None and isinstance(doc.get("phases"), Mapping):
        known = {str(p.number): p for p in bundle.phases} | {p.name: p for p in bundle.phases if p.name}
        for key in doc["phases"]:
            if key not in known:
                suggestion = did_you_mean(key, known)
                add(pointer("phases", key), f"no phase {key!r} in {bundle.spec_name}.",
                    expected=f"a phase number or name: {', '.join(map(repr, known)) or 'the bundle has no phases'}",
                    found=repr(key), fix=f"did you mean {suggestion!r}?" if suggestion else None)
    return problems


def _data_problems(doc: Mapping[str, Any], positions: Mapping[str, tuple[int, int]], file: str, host: PluginHost,
                   broken: set[str]) -> list[Problem]:
    """Tables, splits and concepts that metrics refer to must exist; split column keys must fit."""
    problems: list[Problem] = []

    def add(at: str, message: str, **extra: Any) -> None:
        line, column = positions.get(at, (None, None))
        problems.append(Problem(at, message, file=file, line=line, column=column, **extra))

    def is_broken(at: str) -> bool:
        return any(b == at or b.startswith(at + "/") for b in broken)

    data: Mapping[str, Any] = doc["data"] if isinstance(doc.get("data"), Mapping) else {}
    splits: Mapping[str, Any] = doc["splits"] if isinstance(doc.get("splits"), Mapping) else {}
    registry = host.registry(Kind.METRIC)
    scopes: list[tuple[str, Any]] = [("", doc.get("metrics"))]
    if isinstance(doc.get("phases"), Mapping):
        scopes += [(pointer("phases", k), v.get("metrics")) for k, v in doc["phases"].items() if isinstance(v, Mapping)]
    for base, metrics in scopes:
        if not isinstance(metrics, list):
            continue
        for index, entry in enumerate(metrics):
            at = f"{base}/metrics/{index}"
            if not isinstance(entry, Mapping) or any(b == at or b.startswith(at + "/") for b in broken):
                continue
            inputs: Mapping[str, Any] = entry["inputs"] if isinstance(entry.get("inputs"), Mapping) else {}
            for name in ("predictions", "references"):
                table = inputs.get(name, name)
                if isinstance(table, str) and table not in data:
                    where = f"{at}/inputs/{name}" if name in inputs else at
                    add(where, f"metric {entry.get('use')!r} reads table {table!r}, which 'data' does not declare.",
                        expected=f"a table named {table!r} under /data", found=repr(sorted(data)) if data else "no /data",
                        fix=f"add \"data\": {{\"{table}\": {{\"file\": \"...\", \"id\": \"id\", \"columns\": [\"...\"]}}}}")
            chosen = entry.get("splits", list(splits) or ["all"])
            for position, split in enumerate(chosen if isinstance(chosen, list) else []):
                if not isinstance(split, str):
                    continue
                if split != "all" and split not in splits:
                    suggestion = did_you_mean(split, [*splits, "all"])
                    add(f"{at}/splits/{position}", f"no split {split!r}.", expected=f"'all' or one of {sorted(splits)}",
                        found=repr(split), fix=f"did you mean {suggestion!r}?" if suggestion else "declare it under /splits")
                elif split != "all" and len(f"{entry.get('key', '')}_{split}") > 36:
                    add(f"{at}/key", f"column key '{entry.get('key')}_{split}' is longer than 36 characters.",
                        fix="shorten the key or the split name (Codabench refuses longer keys)")
            output, use = entry.get("output"), entry.get("use")
            if output is not None and isinstance(use, str) and use in registry:
                names = registry.get(use).component.info.output_names
                if output not in names:
                    suggestion = did_you_mean(output, names)
                    add(f"{at}/output", f"metric {use!r} has no output {output!r}.",
                        expected=f"one of {', '.join(map(repr, names))}", found=repr(output),
                        fix=f"did you mean {suggestion!r}?" if suggestion else None)
    for name, table in data.items():
        if isinstance(table, Mapping) and not is_broken(pointer("data", name)):
            _table_problems(name, table, add)
    concepts = doc.get("concepts")
    if isinstance(concepts, list):
        labels = [c.get("label") for c in concepts if isinstance(c, Mapping) and isinstance(c.get("label"), str)]
        seen: set[Any] = set()
        for index, concept in enumerate(concepts):
            if not isinstance(concept, Mapping) or not isinstance(concept.get("label"), str):
                continue
            if concept.get("label") in seen:
                add(f"/concepts/{index}/label", f"concept {concept.get('label')!r} is declared twice.")
            seen.add(concept.get("label"))
            parent = concept.get("parent")
            if parent is not None and parent not in labels:
                add(f"/concepts/{index}/parent", f"parent {parent!r} is not a declared concept.",
                    expected="the label of another concept", found=repr(parent))
    return problems


_TEXT_ONLY = ("names", "header", "delimiter")


def _table_problems(name: str, table: Mapping[str, Any], add: Any) -> None:
    """A table's declaration holds together: ``missing: skip`` only on reference tables (a
    participant must not choose which rows count), ``read_as`` over two or more columns, the
    options of delimited text files only on CSV/TSV, ``names`` naming the id and the columns."""
    at = pointer("data", name)
    source = table.get("from", "submission" if name == "predictions" else "reference")
    if table.get("missing") == "skip" and source == "submission":
        add(f"{at}/missing", f"table {name!r} is read from the submission: rows with a missing value cannot be "
                             "skipped there (a participant would choose which rows count).",
            expected="'error', or no 'missing'", found="'skip'",
            fix="declare \"missing\": \"skip\" on the references table instead (the organiser's to fix)")
    columns = table.get("columns")
    if table.get("read_as") is not None and isinstance(columns, list) and len(columns) < 2:
        add(f"{at}/read_as", f"read_as {table['read_as']!r} reads a row of two or more columns as one label, but "
                             f"'columns' names {len(columns)}.",
            expected="two or more columns, or \"columns\": \"*\"", found=repr(columns),
            fix="name every column of the one-hot or score row, or remove 'read_as'")
    if table.get("format") in ("json", "jsonl", "npy", "npz"):
        for key in [*_TEXT_ONLY, *(["columns"] if columns == "*" else [])]:
            if key in table:
                add(f"{at}/{key}", f"{key!r} is for CSV and TSV files; this table's format is "
                                   f"{table['format']!r}.", expected=f"no {key!r}", found=repr(table[key]),
                    fix=f"remove {key!r}, or declare the format of a delimited text file (\"csv\" or \"tsv\")")
    names = table.get("names")
    if isinstance(names, list):
        wanted = [c for c in ([table.get("id")] + (columns if isinstance(columns, list) else []))
                  if isinstance(c, str)]
        for column in wanted:
            if column not in names:
                suggestion = did_you_mean(column, [n for n in names if isinstance(n, str)])
                add(f"{at}/names", f"column {column!r} is not one of the declared names of the file's fields.",
                    expected=f"{column!r} among 'names'", found=repr(names),
                    fix=f"did you mean {suggestion!r}?" if suggestion else f"add {column!r} to 'names'")


def _plugin_problems(plugins: Sequence[Any], add: Any, is_broken: Any) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    seen: dict[Any, int] = {}
    for index, plugin in enumerate(plugins):
        at = f"/plugins/{index}"
        if not isinstance(plugin, Mapping) or is_broken(at) or not isinstance(plugin.get("id"), str):
            continue
        plugin_id = plugin.get("id")
        if plugin_id in seen:
            add(f"{at}/id", f"plugin {plugin_id!r} is named twice (first at /plugins/{seen[plugin_id]}).",
                fix="keep one entry")
        seen.setdefault(plugin_id, index)
        requirement = plugin.get("requirement")
        if not isinstance(requirement, str):
            continue
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement as error:
            add(f"{at}/requirement", f"not a PEP 508 requirement: {error}.", expected="for example 'acme-metrics>=1.2,<2'",
                found=repr(requirement))
            continue
        if parsed.name.lower().replace("_", "-").replace(".", "-") != plugin_id:
            add(f"{at}/requirement", f"requirement names {parsed.name!r} but the plugin id is {plugin_id!r}.",
                expected=f"a requirement on {plugin_id!r}", found=repr(requirement),
                fix=f"write '{plugin_id}{parsed.specifier}'")


def _component_problems(entry: Mapping[str, Any], at: str, kind: Kind, host: PluginHost, manifest: Manifest,
                        failed_plugins: Sequence[str], add: Any, problems: list[Problem]) -> None:
    registry = host.registry(kind)
    use = entry["use"]
    if use not in registry:
        error = host.unknown(kind, use)
        if error.provider is not None:  # a plugin explains it: not named, failed, not installed
            text = str(error)
            add(f"{at}/use", text if text.endswith(".") else f"{text}.", found=repr(use), fix=error.fix, plugin=error.provider.id,
                severity="warning" if error.optional and not host.strict else "error")
            return
        fix = f"did you mean {error.suggestions[0]!r}?" if error.suggestions else "run 'aibench plugins list' to see them"
        if failed_plugins:
            fix += f" It may come from plugin {', '.join(map(repr, failed_plugins))}, which did not load."
        add(f"{at}/use", f"unknown {kind.value} {use!r}.", expected=f"a registered {kind.value} id",
            found=repr(use), fix=fix)
        return
    registration = registry.get(use)
    params = entry.get("params", {})
    problems.extend(params_problems(registration.component.info.params_schema, params, base=f"{at}/params",
                                    positions=manifest.positions, file=manifest.file,
                                    plugin=registration.plugin, component=use))


def _submissions_problems(section: Mapping[str, Any], at: str, doc: Mapping[str, Any],
                          add: Callable[..., None]) -> None:
    """The ``submissions`` section: the gateway writes CSV predictions with an id column and named
    columns, so without its own ``predictions`` the ``data.predictions`` table must be such a file."""
    if "predictions" in section:
        return
    table = (doc.get("data") or {}).get("predictions") if isinstance(doc.get("data"), Mapping) else None
    fine = isinstance(table, Mapping) and isinstance(table.get("id"), str) and isinstance(table.get("columns"), list) \
        and (table.get("format") == "csv" or (table.get("format") is None and str(table.get("file", "")).endswith(".csv")))
    if not fine:
        add(at, "the gateway of API-integrated submissions writes the predictions the scoring program reads, and "
            "does not know which file: give 'predictions' here, or declare data.predictions as a CSV file with an "
            "'id' column and a list of 'columns'.",
            expected="submissions.predictions {file, id, columns}, or a CSV data.predictions with id and columns",
            found="data.predictions " + ("missing" if table is None else "not a CSV file with an id and named columns"),
            fix="add \"predictions\": {\"file\": \"predictions.csv\", \"id\": \"id\", \"columns\": [\"label\"]} "
                "to the submissions section (the organiser's to fix)")


def _executor_problems(entry: Mapping[str, Any], at: str, host: PluginHost, manifest: Manifest,
                       failed_plugins: Sequence[str], add: Any, problems: list[Problem]) -> None:
    """The ``executor`` section: a registered executor, and params it takes (its ``info.options``)."""
    _component_problems({"use": entry["use"]}, at, Kind.EXECUTOR, host, manifest, failed_plugins, add, problems)
    registry = host.registry(Kind.EXECUTOR)
    params = entry.get("params")
    if entry["use"] not in registry or not isinstance(params, Mapping):
        return
    options = tuple(registry.get(entry["use"]).component.info.options)
    for name in params:
        if name not in options:
            hint = did_you_mean(name, options)
            add(f"{at}/params/{name}", f"the {entry['use']!r} executor takes no option {name!r}.",
                expected=f"one of {', '.join(options)}" if options else "no params", found=repr(name),
                fix=(f"did you mean {hint!r}? " if hint else "") + "remove it or rename it (the organiser's to fix)")


def _original_column_keys(bundle: Bundle | None) -> set[str]:
    """The keys the original scoring program writes: the bundle's columns, less those that
    ``aibench wrap`` added for plugin scores."""
    if bundle is None:
        return set()
    from .wraprecord import find_in_bundle

    wrapped = find_in_bundle(bundle)
    if wrapped is not None:
        return {str(c["key"]) for c in wrapped.columns}
    return {c.key for c in bundle.columns}


def _column_problems(metrics: Sequence[Any], at: str, original: set[str], host: PluginHost, add: Any,
                     is_broken: Any, splits: tuple[str, ...]) -> None:
    """Each metric's column keys, after the split suffix is added (``<key>_<split>``), are unique
    in the phase and are not keys the original scoring program writes."""
    seen: dict[str, str] = {}
    registry = host.registry(Kind.METRIC)
    for index, entry in enumerate(metrics):
        here = f"{at}/{index}"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str) or is_broken(f"{here}/key"):
            continue
        key = entry["key"]
        chosen = entry.get("splits", splits) if isinstance(entry.get("splits", splits), (list, tuple)) else splits
        for split in dict.fromkeys(str(s) for s in chosen):
            column = column_key(key, split)
            if column in seen:
                what = f"column key {column!r}" + (f" (key {key!r} for split {split!r})" if column != key else "")
                add(f"{here}/key", f"{what} is used twice (first at {seen[column]}).",
                    fix="give each metric its own key (a split adds '_<split>' to it)")
            elif column in original:
                add(f"{here}/key", f"column key {column!r} is already a column of the bundle's leaderboard.",
                    expected="a key the original scoring program does not write", found=repr(column),
                    fix=f"choose another key, for example {('aibench_' + key)[:36]!r}; plugin scores never replace "
                        "original ones")
            seen.setdefault(column, here)
        use, sort = entry.get("use"), entry.get("sort")
        if sort and isinstance(use, str) and use in registry:
            implied = registry.get(use).component.info.sort
            if sort != implied:
                add(f"{here}/sort", f"sort {sort!r} ranks the wrong end first: {use} is to "
                                    f"{registry.get(use).component.info.direction}.",
                    expected=repr(implied), found=repr(sort), fix=f"remove 'sort' or set it to {implied!r}",
                    severity="warning")


def unpack_limits(bundle: Bundle) -> UnpackLimits:
    """The unpack limits for runs of ``bundle``: compat's defaults, with what the manifest's
    ``unpack_limits`` sets (MiB for sizes). A bundle without a readable manifest, or a value
    that is not a positive number, keeps the default (``aibench validate`` reports the latter)."""
    from dataclasses import replace

    from codalab_worker_compat import DEFAULT_LIMITS
    from codalab_worker_compat._unpack_limits import MANIFEST_KEYS

    name = _sibling(bundle.spec_name, MANIFEST_NAME)
    if not bundle.exists(MANIFEST_NAME):
        return DEFAULT_LIMITS
    try:
        document = json.loads(bundle.read_bytes(name).decode("utf-8-sig"))
    except (OSError, KeyError, UnicodeDecodeError, ValueError, RecursionError):
        return DEFAULT_LIMITS
    given = document.get("unpack_limits") if isinstance(document, dict) else None
    if not isinstance(given, dict):
        return DEFAULT_LIMITS
    changes: dict[str, Any] = {}
    for field_name, (key, unit) in MANIFEST_KEYS.items():
        value = given.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 2**62:
            changes[field_name] = value if field_name == "max_ratio" else int(value * unit)
    return replace(DEFAULT_LIMITS, **changes)


def _sibling(spec_name: str, name: str) -> str:
    parent = spec_name.rpartition("/")[0]
    return f"{parent}/{name}" if parent else name
