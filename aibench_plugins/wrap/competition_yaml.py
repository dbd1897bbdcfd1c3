"""Adding leaderboard columns to ``competition.yaml`` while keeping the organiser's file:
its comments, order, quoting and anchors.

The new columns are inserted as text after the last existing column, indented like it,
then the file is read back and must equal the old spec plus exactly those columns.
When the layout is one this edit cannot extend (flow style, no column yet), the spec is
dumped anew instead, and a warning says that comments and formatting were lost.

v2 (``docs/codalab-contract.md`` §3.6): items of ``leaderboards[0].columns`` (the only
leaderboard phases use) with ``title``, ``key``, ``index``, ``sorting``, ``precision`` and
``hidden``. v1 (§2.5): entries of ``leaderboard.columns`` keyed by score key with the keys
the site knows (``leaderboard``, ``label``, ``rank``, ``numeric_format``, ``sort``), each
pointing at the same result group as the first existing column (the same ``*ANCHOR``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ..core.errors import ColumnEditError


@dataclass(frozen=True)
class NewColumn:
    """A leaderboard column to add."""

    key: str
    title: str
    sorting: Literal["asc", "desc"]
    precision: int
    hidden: bool = False


def add_columns(text: str, platform: Literal["v1", "v2"], columns: Sequence[NewColumn]) -> tuple[str, list[str]]:
    """``text`` (a competition.yaml) with ``columns`` added; and the warnings of the edit."""
    spec = _load(text, platform)
    expected, entries = (_v2_expected if platform == "v2" else _v1_expected)(spec, columns)
    path: list[str | int] = ["leaderboards", 0, "columns"] if platform == "v2" else ["leaderboard", "columns"]
    place = _find(text, path)
    if place is not None and not place.flow and place.item_column is not None:
        alias = place.first_leaderboard_alias if platform == "v1" else None
        block = "".join(_render(entry, platform, place, alias) for entry in entries)
        edited = text[:place.insert_at] + block + text[place.insert_at:]
        try:
            if _load(edited, platform) == expected:
                return edited, []
        except ColumnEditError:
            pass
    try:
        dumped = yaml.safe_dump(expected, sort_keys=False, allow_unicode=True, width=10**6)
    except yaml.YAMLError as error:
        raise ColumnEditError(f"competition.yaml cannot be rewritten safely ({error}); add the columns by hand") from None
    return dumped, ["competition.yaml was rewritten by a YAML dump (its columns are in a layout that cannot be "
                    "extended in place): comments and formatting were not kept"]


# -- the spec as the platform will read it -------------------------------------------

def _load(text: str, platform: Literal["v1", "v2"]) -> Any:
    """The spec as the site reads it, aliases bounded (compat's ``_yaml``: a "billion laughs"
    spec would make the comparison of the edit walk every expansion). v2: Codabench's
    ``safe_load``; v1: the v1 site's ``full_load``, which also reads the plain-data
    ``!!python/`` tags of old CodaLab dumps (``!!python/unicode 'x'``, §3.1), as compat's
    ``PlainDataLoader`` does. Raises ColumnEditError."""
    from codalab_worker_compat._yaml import PlainDataLoader, load

    try:
        return load(text, PlainDataLoader if platform == "v1" else yaml.SafeLoader)
    except yaml.YAMLError as error:
        site = ("the v1 site's full_load" if platform == "v1" else
                "Codabench's safe_load (which refuses !!python/ tags, codalab-contract.md §3.1)")
        raise ColumnEditError(f"competition.yaml is not YAML that {site} reads: {error}") from None


def _v2_expected(spec: Any, columns: Sequence[NewColumn]) -> tuple[Any, list[dict[str, Any]]]:
    boards = spec.get("leaderboards") if isinstance(spec, dict) else None
    if not isinstance(boards, list) or not boards or not isinstance(boards[0], dict):
        raise ColumnEditError("competition.yaml has no leaderboards[0]: Codabench needs one leaderboard to show "
                              "columns (§3.6); declare it, then wrap again")
    existing = boards[0].get("columns") or []
    indexes: list[int] = [c["index"] for c in existing if isinstance(c, dict) and isinstance(c.get("index"), int)]
    start = max(indexes, default=len(existing) - 1) + 1
    entries = []
    for offset, column in enumerate(columns):
        entry: dict[str, Any] = {"title": column.title, "key": column.key, "index": start + offset,
                                 "sorting": column.sorting, "precision": column.precision}
        if column.hidden:
            entry["hidden"] = True
        entries.append(entry)
    expected = copy.deepcopy(spec)
    expected["leaderboards"][0]["columns"] = list(existing) + entries
    return expected, entries


def _v1_expected(spec: Any, columns: Sequence[NewColumn]) -> tuple[Any, list[dict[str, Any]]]:
    board = spec.get("leaderboard") if isinstance(spec, dict) else None
    existing = board.get("columns") if isinstance(board, dict) else None
    if not isinstance(existing, dict) or not existing:
        raise ColumnEditError("competition.yaml has no leaderboard.columns: the v1 site needs each column in a "
                              "result group (§2.5); declare one column, then wrap again")
    first = next(iter(existing.values()))
    group = first.get("leaderboard") if isinstance(first, dict) else None
    if not isinstance(group, dict):
        raise ColumnEditError("the first column of leaderboard.columns has no 'leaderboard' group to share (§2.5)")
    hidden = [c.key for c in columns if c.hidden]
    if hidden:
        raise ColumnEditError(f"metrics {hidden} are hidden, but a v1 column has no hidden field (§2.5): remove "
                              "'hidden' from them in aibench.json, or convert the bundle to v2")
    ranks: list[int] = [c["rank"] for c in existing.values() if isinstance(c, dict) and isinstance(c.get("rank"), int)]
    start = max(ranks, default=len(existing)) + 1
    entries = []
    expected = copy.deepcopy(spec)
    shared_group = next(iter(expected["leaderboard"]["columns"].values()))["leaderboard"]
    for offset, column in enumerate(columns):
        entry = {"key": column.key, "leaderboard": group, "label": column.title, "rank": start + offset,
                 "numeric_format": column.precision, "sort": column.sorting}
        entries.append(entry)
        expected["leaderboard"]["columns"][column.key] = {k: shared_group if k == "leaderboard" else v
                                                          for k, v in entry.items() if k != "key"}
    return expected, entries


# -- where the columns go in the text ------------------------------------------------

@dataclass
class _Place:
    flow: bool
    insert_at: int
    item_column: int | None = None  # column of the first item's content
    dash_column: int | None = None  # v2: column of the first item's "-"
    first_leaderboard_alias: str | None = None


def _find(text: str, path: Sequence[str | int]) -> _Place | None:
    """Where the collection at ``path`` ends in ``text``, and how its items are indented."""
    stack: list[dict[str, Any]] = []
    place: _Place | None = None
    depth: int | None = None
    last_end = -1
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        start, end = event.start_mark, event.end_mark
        assert start is not None and end is not None  # the pure-Python and C parsers both set marks
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = stack.pop()
            if depth is not None and len(stack) == depth and place is not None:
                if place.flow:
                    place.insert_at = start.index
                else:
                    place.insert_at = _after_line(text, last_end)
                return place
            if depth is not None and len(stack) > depth and frame.get("flow"):
                last_end = max(last_end, end.index)
            continue
        if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent,
                                  yaml.SequenceStartEvent)):
            continue
        here = _position(stack, event)
        if depth is not None and len(stack) > depth:
            last_end = max(last_end, end.index)
            if place is not None and place.item_column is None and len(stack) == depth + 1:
                place.item_column = start.column
                place.dash_column = _dash_column(text, start.index)
            if (place is not None and isinstance(event, yaml.AliasEvent) and len(stack) == depth + 2
                    and stack[-1].get("key") == "leaderboard" and place.first_leaderboard_alias is None):
                place.first_leaderboard_alias = event.anchor
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            frame = {"map": isinstance(event, yaml.MappingStartEvent), "path": here, "expect_key": True,
                     "index": 0, "key": None, "flow": bool(event.flow_style)}
            stack.append(frame)
            if here == list(path) and depth is None:
                depth = len(stack) - 1
                place = _Place(flow=bool(event.flow_style), insert_at=-1)
    return None


def _position(stack: list[dict[str, Any]], event: Any) -> list[Any] | None:
    """The path of the node ``event`` starts (``None`` for mapping keys), updating the parent."""
    if not stack:
        return []
    parent = stack[-1]
    if parent["map"]:
        if parent["expect_key"]:
            parent["expect_key"] = False
            parent["key"] = event.value if isinstance(event, yaml.ScalarEvent) else None
            return None
        parent["expect_key"] = True
        return None if parent["path"] is None else [*parent["path"], parent["key"]]
    parent["index"] += 1
    return None if parent["path"] is None else [*parent["path"], parent["index"] - 1]


def _after_line(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _dash_column(text: str, index: int) -> int | None:
    line_start = text.rfind("\n", 0, index) + 1
    dash = text.rfind("-", line_start, index)
    return dash - line_start if dash >= 0 else None


def _render(entry: Mapping[str, Any], platform: str, place: _Place, alias: str | None) -> str:
    assert place.item_column is not None
    if platform == "v2":
        body = yaml.safe_dump(dict(entry), sort_keys=False, allow_unicode=True, width=10**6).splitlines()
        dash = place.dash_column if place.dash_column is not None else max(place.item_column - 2, 0)
        gap = " " * max(place.item_column - dash - 1, 1)
        lines = [" " * dash + "-" + gap + body[0]] + [" " * place.item_column + line for line in body[1:]]
        return "\n".join(lines) + "\n"
    fields = {k: v for k, v in entry.items() if k not in ("key", "leaderboard")}
    group = f"*{alias}" if alias else yaml.safe_dump(entry["leaderboard"], default_flow_style=True,
                                                     width=10**6).strip()
    inner = " " * (place.item_column + 2)
    body = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=10**6).splitlines()
    key = yaml.safe_dump(entry["key"]).splitlines()[0]
    return (" " * place.item_column + f"{key}:\n" + f"{inner}leaderboard: {group}\n"
            + "".join(f"{inner}{line}\n" for line in body))
