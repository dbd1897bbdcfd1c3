"""The manifest JSON Schema, its composition with plugins' params schemas, and the
translation of schema violations into :class:`Problem` objects that say what was
expected, what was found, and how to fix it."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.problems import Problem, did_you_mean, pointer, short_repr

if TYPE_CHECKING:
    from ..core.host import PluginHost

SCHEMA_FILE = "aibench-manifest.schema.json"


_JSON_TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "array": "an array", "object": "an object", "null": "null"}


@functools.cache
def _schema_text() -> str:
    from importlib.resources import files

    # a resource, not a path: in a wrapped bundle the package is imported from _aibench/lib.zip
    return files("aibench_plugins").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")


def manifest_schema() -> dict[str, Any]:
    """The manifest schema as shipped (a fresh copy; callers may change it)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.cache
def _manifest_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(manifest_schema())


def composed_schema(host: PluginHost) -> dict[str, Any]:
    """The manifest schema plus, for each component the host knows, its params schema
    (``if use == id then params must match``), so editors complete params too."""
    import copy

    from ..core.kinds import KINDS, Kind

    schema = manifest_schema()
    defs = schema["$defs"]
    for row in KINDS.values():
        if row.section is None or row.item_def is None or row.kind is Kind.EXECUTOR:
            continue
        section, item_def = row.section, row.item_def
        registry = host.registry(row.kind)
        ids = registry.ids()
        if not ids:
            continue
        target = defs.setdefault(f"{section}_item", copy.deepcopy(defs[item_def]))
        defs[section]["items"] = {"$ref": f"#/$defs/{section}_item"}
        target["properties"]["use"] = {"$ref": "#/$defs/use", "examples": ids}
        target["allOf"] = [
            {"if": {"properties": {"use": {"const": reg.id}}, "required": ["use"]},
             "then": {"properties": {"params": dict(reg.component.info.params_schema)}},
             "description": f"{reg.id} ({reg.plugin}): {reg.component.info.description}"}
            for reg in registry
        ]
    executors = host.registry(Kind.EXECUTOR).ids()
    if executors:
        defs["executor"]["properties"]["use"] = {"$ref": "#/$defs/use", "examples": executors}
    return schema


def manifest_problems(document: Any, positions: Mapping[str, tuple[int, int]], file: str) -> list[Problem]:
    """Every structural problem of a manifest document, in document order. Never raises for a
    document :func:`~aibench_plugins.manifest.loading.parse_manifest` accepted (JSON, nesting bounded)."""
    return schema_problems(_manifest_validator(), manifest_schema(), document, positions=positions, file=file)


def params_problems(params_schema: Mapping[str, Any], params: Any, *, base: str,
                    positions: Mapping[str, tuple[int, int]], file: str, plugin: str, component: str) -> list[Problem]:
    """Problems of a component's ``params`` against the schema its plugin declares."""
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(dict(params_schema))
    found = schema_problems(validator, params_schema, params, positions=positions, file=file, base=base,
                            plugin=plugin)
    return [_with_owner(p, component, plugin) for p in found]


def schema_problems(validator: Any, schema: Mapping[str, Any], instance: Any, *,
                    positions: Mapping[str, tuple[int, int]], file: str, base: str = "",
                    plugin: str | None = None) -> list[Problem]:
    problems: list[Problem] = []
    for error in validator.iter_errors(instance):
        path = base + pointer(*error.instance_path)
        problems.extend(_translate(error, schema, path, positions, file, plugin))
    return sorted(problems, key=lambda p: (positions.get(p.pointer, (10**9, 0)), p.pointer))


def _translate(error: Any, schema: Mapping[str, Any], path: str, positions: Mapping[str, tuple[int, int]],
               file: str, plugin: str | None) -> list[Problem]:
    kind = error.kind
    name = type(kind).__name__
    node = _schema_node(schema, list(error.schema_path)[:-1])
    value = error.instance

    def problem(at: str, message: str, **extra: Any) -> Problem:
        line, column = positions.get(at, positions.get(path, (None, None)))
        return Problem(at, message, file=file, line=line, column=column, plugin=plugin, **extra)

    if name == "AdditionalProperties":
        allowed = sorted((node.get("properties") or {}).keys())
        out = []
        for key in kind.unexpected:
            suggestion = did_you_mean(key, allowed)
            out.append(problem(f"{path}/{key}", f"unknown key {key!r}.",
                               expected=f"one of {', '.join(map(repr, allowed))}" if allowed else "no keys",
                               found=repr(key),
                               fix=f"did you mean {suggestion!r}?" if suggestion else "remove it"))
        return out
    if name == "Required":
        return [problem(path, f"missing required key {kind.property!r}.", expected=f"a key {kind.property!r}",
                        fix=f"add \"{kind.property}\": ...")]
    if name == "Type":
        types = kind.types if isinstance(kind.types, (list, tuple)) else [kind.types]
        wanted = " or ".join(_JSON_TYPES.get(str(t), str(t)) for t in types)
        fix = None
        if isinstance(value, str) and any(t in ("integer", "number") for t in types):
            fix = f"write the number without quotes: {value}"
        elif isinstance(value, str) and "boolean" in types:
            fix = "write true or false without quotes"
        return [problem(path, "wrong type.", expected=wanted, found=f"{short_repr(value)} ({_json_type(value)})",
                        fix=fix)]
    if name in ("Enum", "Constant"):
        options = list(kind.options) if name == "Enum" else [kind.expected_value]
        suggestion = did_you_mean(value, [o for o in options if isinstance(o, str)]) if isinstance(value, str) else None
        return [problem(path, "value not allowed.", expected=f"one of {', '.join(map(short_repr, options))}",
                        found=short_repr(value), fix=f"did you mean {suggestion!r}?" if suggestion else None)]
    if name == "Pattern":
        return [problem(path, "value does not match the required form.", expected=f"a string matching {kind.pattern}",
                        found=short_repr(value), fix=_pattern_fix(node))]
    if name in ("MaxLength", "MinLength"):
        word = "at most" if name == "MaxLength" else "at least"
        return [problem(path, "wrong length.", expected=f"{word} {kind.limit} characters",
                        found=f"{short_repr(value)} ({len(value)} characters)")]
    if name in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum"):
        relation = {"Minimum": ">=", "Maximum": "<=", "ExclusiveMinimum": ">", "ExclusiveMaximum": "<"}[name]
        return [problem(path, "value out of range.", expected=f"a number {relation} {kind.limit}",
                        found=short_repr(value))]
    if name in ("MinItems", "MaxItems", "MinProperties", "MaxProperties"):
        word = "at least" if name.startswith("Min") else "at most"
        unit = "items" if name.endswith("Items") else "keys"
        return [problem(path, f"wrong number of {unit}.", expected=f"{word} {kind.limit} {unit}",
                        found=str(len(value)))]
    return [problem(path, error.message.rstrip(".") + ".")]


def _schema_node(schema: Mapping[str, Any], path: Sequence[Any]) -> Mapping[str, Any]:
    """The schema object at ``path`` (a jsonschema ``schema_path``), following local $refs."""
    node: Any = schema
    for part in path:
        if part == "$ref" and isinstance(node, Mapping):
            node = _resolve(schema, node["$ref"])
            continue
        try:
            node = node[part] if not isinstance(node, list) else node[int(part)]
        except (KeyError, IndexError, TypeError, ValueError):
            return {}
    return node if isinstance(node, Mapping) else {}


def _resolve(schema: Mapping[str, Any], ref: str) -> Any:
    node: Any = schema
    if not ref.startswith("#"):
        return {}
    for part in ref[1:].split("/")[1:]:
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, Mapping) else {}
    return node


def _pattern_fix(node: Mapping[str, Any]) -> str | None:
    description = node.get("description")
    return str(description) if description else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _with_owner(problem: Problem, component: str, plugin: str) -> Problem:
    from dataclasses import replace

    return replace(problem, message=f"{component} (plugin {plugin}): {problem.message}")
