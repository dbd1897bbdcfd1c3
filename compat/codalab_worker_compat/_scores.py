"""Scores: what each platform reads from a scoring program's output folder, and what it stores.

Rules follow ``docs/codalab-contract.md`` §4.9 (v1 site), §5.9 (v2 worker and site), §7, §8.1-3,
§8.15-16, §11 and §12. Platforms: ``"v1"`` (CodaLab Competitions), ``"codabench"`` (Codabench
c7dbc75) and ``"ai4mediabench"`` (AI4Media-Bench = Codabench as of 2023-10). Both v2 versions parse
scores alike (§12, "unchanged"); they differ on how NaN fails and on the scorer's exit code.
[unverified] marks rules the note is unsure of; the documented behaviour is the one chosen.
"""

from __future__ import annotations

import json
import math
import statistics
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Literal, Protocol

import yaml

from ._bundle import Column
from ._yaml import check_aliases, compose, construct
from ._errors import InvalidValue

ScorePlatform = Literal["v1", "codabench", "ai4mediabench"]
Outcome = Literal["ok", "failed", "no_scores"]
PLATFORMS: tuple[ScorePlatform, ...] = ("v1", "codabench", "ai4mediabench")
V2_KEY_MAX = 36  # Column.key max_length on the v2 site (§3.6, §8.16)
# DecimalField(max_digits=20, decimal_places=10): v2 per §5.9; v1 stores "as decimal" (§7) in the
# same field (read in codalab-competitions models.py, not stated in the note).
_CONTEXT, _QUANTUM = Context(prec=20), Decimal(1).scaleb(-10)
_Reading = tuple[str, object] | str | None  # (key, value), a description, or nothing


class ColumnLike(Protocol):
    """Anything with a ``key``: the score key a leaderboard column takes its value from."""

    @property
    def key(self) -> str: ...


AnyColumn = Column | ColumnLike


@dataclass
class ScoresResult:
    """Scores as one platform reads them from an output folder.

    ``outcome``: ``ok`` (scores reach the site), ``failed`` (the submission is marked Failed) or
    ``no_scores`` (it finishes, but no score reaches the leaderboard). ``scores`` is the mapping the
    site receives (v2: after the JSON POST); ``parsed`` is the parser's raw output.
    """

    platform: ScorePlatform
    file: str | None
    outcome: Outcome
    scores: dict[str, object] = field(default_factory=dict)
    parsed: object = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


@dataclass
class LeaderboardRow:
    """A leaderboard row as the site stores it: one value per declared column, ``None`` for n/a."""

    platform: ScorePlatform
    outcome: Outcome | Literal["invalid_columns"]
    values: dict[str, Decimal | None]
    ignored: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LineDifference:
    """A ``scores.txt`` line (1-based) that v1 and v2 read differently, with each reading."""

    line: int
    text: str
    v1: str
    v2: str


def read_scores(output_dir: str | Path, platform: ScorePlatform, *, scorer_exit_code: int | None = 0,
                strict: bool = False) -> ScoresResult:
    """Read ``output_dir`` as ``platform`` does after a scoring step.

    v1 (§4.9): only ``scores.txt``, CRLF read as LF; a missing file, or a non-empty line that
    ``split(":")`` does not cut in two (no colon, two colons, whitespace-only), fails it. Keys are
    ``label.strip()``; values ``float(value)``, or the raw text when float() refuses it (fatal only
    if the key is a column: see :func:`map_to_columns`).
    v2 (§5.9): ``scores.json`` (json.load, NaN accepted) wins over ``scores.txt`` (YAML); neither
    file, or bad JSON, fails it; bad YAML, a non-mapping document, NaN/inf anywhere in the payload
    (§12: each version fails differently) or a value JSON cannot carry give ``no_scores``.
    A non-zero ``scorer_exit_code`` fails v1 (§4.10) and codabench (§5.10, §12), not ai4mediabench.
    With ``strict``, each ``scores.txt`` line v1 and v2 read differently is added to the warnings.

    Never raises for what the files hold (any bytes, nesting, aliases, digits: the outcome and
    ``error`` say what the platform does); raises ``ValueError`` only for an unknown ``platform``.
    """
    _check(platform)
    out, notes = Path(output_dir), []
    if scorer_exit_code not in (0, None):
        if platform != "ai4mediabench":
            return ScoresResult(platform, None, "failed", error=f"the scoring program exited with "
                                f"{scorer_exit_code}: the run fails ({'§4.10' if platform == 'v1' else '§5.10, §12'})")
        notes.append(f"exit code {scorer_exit_code} is not checked on ai4mediabench: scores are still pushed (§12)")
    result = _read_v1(out) if platform == "v1" else _read_v2(out, platform)
    result.warnings[:0] = notes
    if strict and result.file == "scores.txt":
        result.warnings += [f"line {d.line}: v1 reads {d.v1}; v2 reads {d.v2}"
                            for d in compare_lines(_text(out / "scores.txt"))]
    return result


def map_to_columns(scores: ScoresResult | Mapping[str, object], columns: Iterable[AnyColumn],
                   platform: ScorePlatform) -> LeaderboardRow:
    """The leaderboard row ``platform`` stores for ``scores`` and the declared ``columns``.

    Keys that are not column keys are ignored, by exact match (§4.9, §5.9; v1 case-sensitivity is
    [unverified]: a case-only mismatch is warned about). Declared columns with no score are n/a.
    Values go through DecimalField(20, 10): rounded to 10 places, at most 10 integer digits; NaN/inf
    are refused (§4.9 #1669, §8.15; v2 'nan' strings are [unverified] §11: refused, as §12 says
    scores must be finite). A refused value fails a v1 submission; on v2 the upload request fails
    and the row stays empty ([unverified]: columns saved before it may persist). On v2 a column key
    over 36 characters means the site rejects the bundle (§3.6, §8.16). A v1 column key given twice
    fails (unique result/scoredef; [unverified], not in the note: read in codalab-competitions
    models.py). A plain mapping is taken as the parsed scores (for v2, before the JSON POST).
    """
    _check(platform)
    keys = [column.key for column in columns]
    row = LeaderboardRow(platform, "ok", dict.fromkeys(keys))
    too_long = [k for k in keys if len(k) > V2_KEY_MAX]
    if platform != "v1" and too_long:
        row.outcome, row.error = "invalid_columns", (
            f"column keys {too_long} exceed {V2_KEY_MAX} characters: the v2 site rejects the bundle (§3.6, §8.16)")
        return row
    if not isinstance(scores, ScoresResult):
        scores = _deliver_v2(dict(scores), platform, None) if platform != "v1" else \
            ScoresResult("v1", None, "ok", {k: _v1_float(v) if isinstance(v, str) else v for k, v in scores.items()})
    if scores.platform != platform:
        raise InvalidValue(f"scores were read for {scores.platform!r}, not {platform!r}")
    row.warnings = list(scores.warnings)
    if scores.outcome != "ok":
        row.outcome, row.error = scores.outcome, scores.error
        return row
    for key, value in scores.scores.items():
        if key not in row.values:
            row.ignored.append(key)
            row.warnings += [f"score {key!r} differs from column {k!r} only in case: ignored"
                             for k in keys if k.lower() == key.lower()]
            continue
        try:
            if platform == "v1" and key in scores.duplicates:
                raise InvalidValue("given twice: the second SubmissionScore breaks unique (result, scoredef)")
            row.values[key] = _store(value, platform)
        except ValueError as problem:
            row.outcome = "failed" if platform == "v1" else "no_scores"
            row.error, row.values = f"{key!r}: {problem}", dict.fromkeys(keys)
            return row
        if isinstance(value, bool):
            row.warnings.append(f"{key!r}: boolean {value} stored as {int(value)} [unverified]")
    _computed_columns(row, list(columns), platform)
    row.warnings += [f"column {k!r} has no score: n/a" for k, v in row.values.items() if v is None]
    return row


_COMPUTATIONS = {"avg": statistics.mean, "sum": sum, "min": min, "max": max}


def _computed_columns(row: LeaderboardRow, columns: list[AnyColumn], platform: ScorePlatform) -> None:
    """Fill v2 computed columns as ``Submission.calculate_scores`` does after an upload (§3.6):
    the operation over the stored scores of the listed column indexes, when any is stored,
    replacing whatever the scorer wrote under that key. v1 computed columns rank submissions
    against each other (§2.5), which one run cannot do: they stay n/a, with a warning."""
    by_index = {getattr(c, "index", None): c.key for c in columns}
    for column in columns:
        computation = getattr(column, "computation", None)
        if computation is None:
            continue
        if platform == "v1":
            row.warnings.append(f"column {column.key!r} is computed on ranks across submissions (§2.5): "
                                "not computed for a single run")
            continue
        operation = _COMPUTATIONS.get(computation)
        stored = [row.values[by_index[i]] for i in getattr(column, "computation_indexes", ())
                  if by_index.get(i) in row.values and row.values[by_index[i]] is not None]
        if operation is None or not stored:
            continue
        value = Decimal(operation(stored))  # type: ignore[operator]
        row.values[column.key] = value.quantize(_QUANTUM, context=_CONTEXT)


def compare_lines(text: str) -> list[LineDifference]:
    """Each line of a ``scores.txt`` text that v1 (§4.9) and v2 (§5.9) read differently (§8.1-3).

    v1 reads each non-empty line alone (``split(":")``, then ``float``). v2 reads the whole text as
    YAML, so a line's v2 reading is the top-level entry that starts on it, part of an entry's value,
    nothing (blank or comment), or no score when the document is not a mapping or not YAML. Two
    readings agree when the keys match and the numbers are equal. Line numbers are
    those of ``split("\\n")``, also when the text holds a Unicode line separator (U+2028...), which
    YAML counts as a line break. Never raises, for any text.
    """
    text = _newlines(text)
    lines, seen, found = text.split("\n"), set(), []
    for number, (line, right) in enumerate(zip(lines, _v2_lines(text, len(lines))), 1):
        left: _Reading = _v1_line(line)
        if isinstance(left, tuple) and left[0] in seen:
            left = f"{left[0]} = {left[1]!r} again (fails the submission if {left[0]!r} is a column)"
        elif isinstance(left, tuple):
            seen.add(left[0])
        if left is None and right is None or (isinstance(left, tuple) and isinstance(right, tuple)
                                              and left[0] == right[0] and _same_number(left[1], right[1])):
            continue
        found.append(LineDifference(number, line, _describe(left, "skipped (empty line)"),
                                    _describe(right, "nothing (blank, whitespace or comment)")))
    return found


def _read_v1(out: Path) -> ScoresResult:
    path = out / "scores.txt"
    if path.exists() and not path.is_file():
        return ScoresResult("v1", "scores.txt", "failed", error="scores.txt is a folder, not a file: the worker "
                            "cannot open it and the submission fails (§4.9). Organiser: the scoring program must "
                            "write it as a file")
    if not path.is_file():
        return ScoresResult("v1", None, "failed", error="no scores.txt at the root of the scoring output, so the site marks the submission failed (§4.9)")
    result = ScoresResult("v1", "scores.txt", "ok")
    for number, line in enumerate(_text(path).split("\n"), 1):
        reading = _v1_line(line)
        if isinstance(reading, str):
            return ScoresResult("v1", "scores.txt", "failed", error=f"line {number} {line!r}: {reading}")
        if reading is None:
            continue
        key, value = reading
        if key in result.scores:
            result.duplicates.append(key)
            result.warnings.append(f"line {number}: {key!r} again; fails the submission if it is a column")
        else:
            result.scores[key] = value
        if isinstance(value, str):
            result.warnings.append(f"line {number}: float({value!r}) fails the submission if {key!r} is a column")
    result.parsed = dict(result.scores)
    return result


def _v1_line(line: str) -> tuple[str, float | str] | str | None:
    """None for an empty line, an error message, or (label.strip(), float or raw text)."""
    if not line:
        return None
    parts = line.split(":")
    if len(parts) != 2:
        return f"split(':') gives {len(parts)} part(s), not 2: ValueError fails the submission (§4.9)"
    return parts[0].strip(), _v1_float(parts[1])


def _v1_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _read_v2(out: Path, platform: ScorePlatform) -> ScoresResult:
    json_path, txt_path = out / "scores.json", out / "scores.txt"
    for path in (json_path, txt_path):
        if path.exists() and not path.is_file():  # a folder: the worker's open() raises, the run fails
            return ScoresResult(platform, path.name, "failed", error=(
                f"{path.name} is a folder, not a file: the worker cannot open it and the submission fails (§5.9). "
                "Organiser: the scoring program must write it as a file"))
    if json_path.exists():
        notes = ["scores.txt is ignored: scores.json comes first (§5.9)"] if txt_path.exists() else []
        try:
            result = _deliver_v2(json.loads(_text(json_path)), platform, "scores.json")
        except json.JSONDecodeError as problem:
            result = ScoresResult(platform, "scores.json", "failed", error=(
                f"Could not decode scores json properly ({problem.msg}): SubmissionException, Failed (§5.9)"))
        except (ValueError, RecursionError) as problem:  # [unverified]: json.load raises it, the worker fails
            what = "nests deeper than Python's recursion limit" if isinstance(problem, RecursionError) else \
                f"holds a value json.load refuses ({problem})"
            result = ScoresResult(platform, "scores.json", "failed", error=(
                f"scores.json {what}: json.load raises and the worker fails the submission (§5.9) [unverified]"))
        result.warnings[:0] = notes
        return result
    if not txt_path.exists():
        return ScoresResult(platform, None, "failed", error="Could not find scores file, did the scoring program output it? (§5.9)")
    try:  # the worker uses the unsafe yaml.Loader (§8.23); Python tags are refused here instead
        parsed, spans = _yaml_document(_text(txt_path))
    except yaml.YAMLError as problem:
        return ScoresResult(platform, "scores.txt", "no_scores", error=(
            f"scores.txt is not YAML ({_yaml_problem(problem)}): the worker raises after Finished (§5.9, §8.2)"))
    result = _deliver_v2(parsed, platform, "scores.txt")
    keys = [key for key, _, _ in spans]
    result.duplicates = sorted({_json_key(k) for k in keys if keys.count(k) > 1})
    result.warnings += [f"{k!r} given more than once: YAML keeps the last value" for k in result.duplicates]
    return result


def _deliver_v2(parsed: object, platform: ScorePlatform, file: str | None) -> ScoresResult:
    """What reaches ``upload_submission_scores`` after ``requests.post(json=...)`` (§5.9, §12)."""
    result = ScoresResult(platform, file, "no_scores", parsed=parsed)
    if not isinstance(parsed, dict):
        result.error = (f"the scores are a {type(parsed).__name__} ({str(parsed)[:60]!r}), not a mapping: "
                        "the site raises AttributeError and shows n/a (§5.9, §8.1)")
    elif _non_finite_or_too_deep(parsed):
        result.error = ("NaN/inf in the scores: requests raises InvalidJSONError; Finished, no scores, output "
                        "not uploaded (§5.9, §12)" if platform == "codabench" else
                        "NaN/inf in the scores: requests 2.20 sends bare NaN, the site's strict JSON parser "
                        "answers 400 and the worker ignores it; Finished, no scores, output uploaded (§12)")
    else:
        try:
            result.scores, result.outcome = json.loads(json.dumps(parsed)), "ok"
        except (TypeError, ValueError, RecursionError) as problem:  # [unverified]: read in code, not run
            result.error = f"the scores cannot be sent as JSON ({problem}): the POST raises, no scores (§5.9)"
        result.warnings += [f"key {k!r} is sent as {_json_key(k)!r}" for k in parsed if not isinstance(k, str)]
    return result


def _yaml_document(text: str) -> tuple[object, list[tuple[object, int, int]]]:
    """The document, and (key, first line, last line) of each top-level entry when it is a mapping.

    Lines are those of ``text.split("\\n")`` (YAML also breaks lines at U+0085, U+2028 and U+2029;
    its marks' character offsets are mapped back). Aliases are bounded (``_yaml``); raises only
    ``yaml.YAMLError``."""
    loader = yaml.SafeLoader(text)
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    try:
        node, spans = compose(loader), []
        if isinstance(node, yaml.MappingNode):
            check_aliases(node)
            for key_node, value_node in node.value:
                end, first = value_node.end_mark, bisect_right(starts, key_node.start_mark.index) - 1
                last = bisect_right(starts, end.index) - 1
                if end.index == starts[last] and last > first:
                    last -= 1
                spans.append((construct(loader, key_node), first + 1, last + 1))
        return construct(loader, node), spans
    finally:
        loader.dispose()


def _v2_lines(text: str, count: int) -> list[_Reading]:
    """The v2 reading of each line of ``text`` (see :func:`compare_lines`)."""
    try:
        data, spans = _yaml_document(text)
    except yaml.YAMLError as problem:
        return [f"no score: the file is not YAML ({_yaml_problem(problem)})" if line.strip() else None
                for line in text.split("\n")]
    if not isinstance(data, dict):
        return [f"no score: the whole file is the {type(data).__name__} {str(data)[:60]!r}"
                if line.strip() and not line.lstrip().startswith("#") else None for line in text.split("\n")]
    readings: list[_Reading] = [None] * count
    last_start = {key: start for key, start, _ in spans}
    for key, start, end in spans:
        name = _json_key(key)
        for number in range(start + 1, end + 1):
            readings[number - 1] = f"part of the value of {name!r} (line {start})"
        readings[start - 1] = (name, data.get(key)) if last_start[key] == start else \
            f"{name!r}, overridden by line {last_start[key]} (last value wins)"
    return readings


def _yaml_problem(problem: yaml.YAMLError) -> str:
    if isinstance(problem, yaml.MarkedYAMLError) and (mark := problem.context_mark or problem.problem_mark):
        return f"{problem.problem} at line {mark.line + 1}"
    return str(problem)


def _store(value: object, platform: ScorePlatform) -> Decimal:
    """``value`` as DecimalField(max_digits=20, decimal_places=10) saves it; ValueError if refused."""
    number = _v1_float(value) if platform == "v1" and isinstance(value, str) else value
    if platform == "v1" and isinstance(number, str):
        raise InvalidValue(f"float({value!r}) raises ValueError, which fails the submission (§4.9)")
    if number is None:
        raise InvalidValue("null: the score column is NOT NULL, the upload fails [unverified]")
    try:
        decimal = _CONTEXT.create_decimal_from_float(number) if isinstance(number, float) \
            else Decimal(number)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError, OverflowError):  # a list reads as Decimal's (sign, digits, exp)
        raise InvalidValue(f"{str(value)[:60]!r} is not a number: DecimalField refuses it, the upload fails") from None
    if not decimal.is_finite():
        raise InvalidValue(f"{value!r} is not finite: the database refuses it (§4.9 #1669, §8.15, §11)")
    try:
        return decimal.quantize(_QUANTUM, context=_CONTEXT)
    except InvalidOperation:
        raise InvalidValue(f"{value!r} does not fit Decimal(20,10): at most 10 digits before the point") from None


def _non_finite_or_too_deep(value: object) -> bool:
    try:
        return _non_finite(value)
    except RecursionError:  # json.dumps then raises too: treated as "cannot be sent"
        return False


def _non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(_non_finite(item) for item in items)


def _same_number(left: object, right: object) -> bool:
    if isinstance(left, str) or isinstance(right, bool) or not isinstance(right, (int, float)):
        return isinstance(left, str) and isinstance(right, str) and left.strip() == right
    return left == right or (math.isnan(float(left)) and math.isnan(float(right)))  # type: ignore[arg-type]


def _describe(reading: _Reading, empty: str) -> str:
    if not isinstance(reading, tuple):
        return empty if reading is None else reading
    return f"{reading[0]} = {reading[1]!r}" + (" (text, not a number)" if isinstance(reading[1], str) else "")


def _json_key(key: object) -> str:
    try:
        return str(next(iter(json.loads(json.dumps({key: 0})))))
    except (TypeError, ValueError):
        return repr(key)


def _text(path: Path) -> str:
    # Both sites open the file in Python 3 text mode (the v1 site runs python:3.8, per its
    # Dockerfile), so "\r\n" and a lone "\r" arrive as "\n": a CRLF blank line is an empty line.
    return _newlines(path.read_bytes().decode("utf-8", errors="replace"))


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check(platform: str) -> None:
    if platform not in PLATFORMS:
        raise InvalidValue(f"unknown platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
