"""Built-in checks of what a submission's prediction file holds, declared in the
manifest and run before scoring, so that a participant learns in seconds what to fix.

=========================  ===========================================================
``aibench.table_schema``   the file has the required columns, of the declared types
                           (``int``, ``float``, ``str``, ``bool``); optionally no others
``aibench.ids``            every id of the reference data has exactly one prediction, and
                           no prediction has an id the reference data lacks
``aibench.finite``         no NaN, empty or infinite value in numeric columns
``aibench.value_range``    values between a minimum and a maximum, per column
``aibench.label_set``      labels from an allowed list (``labels``, or the manifest's
                           ``concepts`` when the runner fills them in)
``aibench.probabilities``  per-row probabilities in [0, 1] that sum to one within a tolerance
=========================  ===========================================================

Every check reads its file with :func:`aibench_plugins.data.readers.read_table` (``file`` is
a glob relative to the submission folder; ``format`` is taken from the extension unless
given; ``id`` names the id column, or is ``null`` for files read in row order: it must be
given explicitly). Every problem names the file, the line (1-based, the header being line
1) or the id, and the fix. All problems are reported at once, up to ``max_problems``
(default 20), followed by one summary problem ``... and N more``. A file larger than
``max_read_mb`` (default 500 MiB) is not read: the check says so instead (the size comes
from the file's metadata; ``aibench.size_limit`` refuses large submissions the same way).

Call contract (an extension of :class:`aibench_plugins.FunctionCheck`'s, compatible with
checks written before it): a check function is called as
``function(submission: Path, **params)``. A check that needs the reference data declares
a keyword parameter ``reference: Path | None = None``; the runner passes the reference
data folder (``input/ref``) as ``reference=`` to the checks whose function declares that
parameter, and only to them, so existing checks are called as before. In the same way a
check declaring ``concepts: Sequence | None = None`` receives the labels of the manifest's
``concepts``. ``reference`` is
not a manifest param (the params schemas do not list it). ``aibench.ids`` is such a check:
called without a reference folder it raises, since it cannot check anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from aibench_plugins import MetricInputError, SubmissionProblem, check, hookimpl
if TYPE_CHECKING:
    from numpy.typing import NDArray

    from aibench_plugins.data import ReadError, Table, TableSpec

_MIB = 1024 * 1024
_FORMATS = ("csv", "tsv", "json", "jsonl", "npy", "npz")  # _readers.FORMATS (not imported: start-up time)
_LISTED = 10  # labels or columns named in a fix
_TYPES = ("int", "float", "str", "bool")

_COMMON: Mapping[str, Any] = {
    "file": {"type": "string", "minLength": 1,
             "description": "Glob pattern of the file, relative to the submission root; exactly one file must match."},
    "format": {"enum": list(_FORMATS), "description": "The file's format; by default taken from its extension."},
    "id": {"type": ["string", "null"], "minLength": 1,
           "description": "The id column (any name for npz, whose ids are the array 'ids'), or null for a file "
                          "read in row order."},
    "max_problems": {"type": "integer", "minimum": 1, "default": 20,
                     "description": "Problems listed before one summary problem '... and N more'."},
    "max_read_mb": {"type": "number", "exclusiveMinimum": 0, "default": 500,
                    "description": "A file larger than this (MiB) is not read; the check reports it instead."},
}


def _schema(required: Sequence[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {**_COMMON, **properties},
            "required": ["file", "id", *required], "additionalProperties": False}


_COLUMN_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}

_TABLE_SCHEMA = _schema(
    ["columns"],
    columns={"type": "object", "minProperties": 1, "additionalProperties": {"enum": list(_TYPES)},
             "description": "Required columns and their types: int, float, str or bool."},
    allow_extra_columns={"type": "boolean", "default": True,
                         "description": "When false, a column not listed (nor the id column) is a problem."},
)
_IDS = _schema(
    ["reference_file"],
    reference_file={"type": "string", "minLength": 1,
                    "description": "Glob pattern of the file listing the expected ids, relative to the reference "
                                   "data folder."},
    reference_format={"enum": list(_FORMATS), "description": "Its format; by default taken from its extension."},
    reference_id={"type": ["string", "null"], "minLength": 1,
                  "description": "Its id column; by default the same as id."},
)
_FINITE = _schema(["columns"], columns={**_COLUMN_LIST, "description": "The numeric columns to check."})
_RANGE = _schema(
    ["columns"],
    columns={"type": "object", "minProperties": 1,
             "additionalProperties": {"type": "object", "minProperties": 1, "additionalProperties": False,
                                      "properties": {"min": {"type": "number"}, "max": {"type": "number"}}},
             "description": "Column -> {\"min\": low, \"max\": high}, bounds included; either may be left out."},
)
_LABELS = _schema(
    ["column"],
    column={"type": "string", "minLength": 1, "description": "The label column."},
    labels={"type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"type": ["string", "integer"]},
            "description": "The allowed labels; by default the manifest's concepts."},
)
_PROBABILITIES = _schema(
    ["columns"],
    columns={**_COLUMN_LIST, "minItems": 2, "description": "The per-class probability columns."},
    tolerance={"type": "number", "minimum": 0, "default": 1e-3,
               "description": "Largest accepted distance between a row's sum and 1."},
)


class _Report:
    """The problems of one check, up to a cap, then one summary problem."""

    def __init__(self, check_id: str, file: str, cap: int) -> None:
        self.check_id = check_id
        self.file = file
        self.cap = cap
        self.problems: list[SubmissionProblem] = []
        self.more = 0

    def add(self, message: str, *, fix: str | None, line: int | None = None, item: str | None = None,
            file: str | None = None) -> None:
        if len(self.problems) < self.cap:
            self.problems.append(SubmissionProblem(self.check_id, message, file or self.file, line, item, fix))
        else:
            self.more += 1

    def rows(self, table: Table, rows: NDArray[Any], describe: Callable[[int, int], tuple[str, str]],
             which: NDArray[Any] | None = None) -> None:
        """One problem per row in ``rows`` (in order), ``describe(row, k)`` giving its message and
        fix (``k``: the matching entry of ``which``, e.g. the column); only the rows within the
        cap are described."""
        room = max(0, self.cap - len(self.problems))
        taken = rows[:room]
        self.more += len(rows) - len(taken)
        for k, (row, line) in enumerate(zip(taken.tolist(), table.lines(taken))):
            message, fix = describe(row, int(which[k]) if which is not None else 0)
            item = table.item(row) or None
            if line is None and item is None:
                message += f" (row {row + 1})" if table.format in ("npy", "npz") else f" (record {row + 1})"
            self.add(message, fix=fix, line=line, item=item, file=table.file)

    def done(self) -> list[SubmissionProblem]:
        if self.more:
            self.problems.append(SubmissionProblem(
                self.check_id, f"... and {self.more} more", self.file,
                fix=f"only the first {self.cap} problems are listed (max_problems); fix them and submit again"))
        return self.problems


def _read(report: _Report, folder: Path, spec: TableSpec, max_read_mb: float) -> Table | None:
    """The table, or ``None`` after adding the problem that prevented reading it."""
    from aibench_plugins import data as _readers

    try:
        table = _readers.read_table(folder, spec, max_bytes=int(max_read_mb * _MIB), convert=False)
    except _readers.ReadError as error:
        _read_problems(report, error, max_read_mb, folder, spec.format)
        return None
    report.file = table.file
    return table


def _read_problems(report: _Report, error: ReadError, max_read_mb: float, folder: Path,
                   format: str | None) -> None:
    from aibench_plugins import data as _readers
    from aibench_plugins.data import missing_file

    report.file = error.file
    if error.kind == "missing_file":  # the words every check uses, so that the session merges them
        missing = missing_file(folder, error.file, format)
        report.add(missing.message, fix=missing.fix)
    elif error.kind == "too_large":
        size = (error.size or 0) / _MIB
        report.add(f"file is {size:.1f} MiB, over the {max_read_mb:g} MiB this check reads (max_read_mb), "
                   "so it was not checked", line=None,
                   fix=f"make it smaller than {max_read_mb:g} MiB (fewer decimal digits, only the needed "
                       "columns); organisers can raise max_read_mb")
    elif error.kind == "missing_column" and len(error.column_fixes) == len(error.missing_columns) > 1:
        found = ", ".join(_readers.short(c) for c in error.found_columns[:2 * _LISTED]) or "none"
        for column, fix in zip(error.missing_columns, error.column_fixes):
            report.add(f"no column {column!r} (found columns: {found})", line=error.line, fix=fix)
    else:
        report.add(error.message, line=error.line, item=error.item, fix=error.fix)


def _spec(file: str, id: str | None, columns: Sequence[str], format: str | None,
          dtypes: Mapping[str, Any] | None = None) -> TableSpec:
    from aibench_plugins import data as _readers

    return _readers.TableSpec(file, id=id, columns=[c for c in columns if c != id],
                              format=format, dtypes=dtypes or {})  # type: ignore[arg-type]


def _numbers(series: Any) -> NDArray[Any]:
    """A column as floats; a value that is not a number becomes NaN."""
    import numpy as np

    pd = _pandas()
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    return np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)


def _format(name: str, declared: str | None) -> str | None:
    from aibench_plugins import data as _readers

    try:
        return _readers.format_of(name, declared)
    except _readers.ReadError:
        return None


def _pandas() -> Any:
    import importlib

    return importlib.import_module("pandas")


def _by_row(masks: Sequence[NDArray[Any]]) -> tuple[NDArray[Any], NDArray[Any]]:
    """One entry per (row, mask) where the mask is true, ordered by row, then by mask:
    ``(rows, mask indexes)``."""
    import numpy as np

    rows = [np.flatnonzero(mask) for mask in masks]
    which = [np.full(len(r), k) for k, r in enumerate(rows)]
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    all_rows, all_which = np.concatenate(rows), np.concatenate(which)
    order = np.lexsort((all_which, all_rows))
    return all_rows[order], all_which[order]


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "int" else f"a {kind}"


def _listing(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:_LISTED])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _LISTED else "")


@check(id="aibench.table_schema", params_schema=_TABLE_SCHEMA)
def table_schema(submission: Path, *, file: str, id: str | None, columns: Mapping[str, str],
                 format: str | None = None, allow_extra_columns: bool = True, max_problems: int = 20,
                 max_read_mb: float = 500) -> list[SubmissionProblem]:
    """The prediction file has the required columns, each value of the declared type (int,
    float, str, bool); optionally no other column."""
    import numpy as np

    from aibench_plugins import data as _readers

    report = _Report("aibench.table_schema", file, max_problems)
    spec = _spec(file, id, list(columns), format)
    table: Table | None = None
    header: Sequence[str] | None = None
    header_line: int | None = None
    try:
        table = _readers.read_table(submission, spec, max_bytes=int(max_read_mb * _MIB), convert=False)
        report.file = table.file
        header = table.header if table.format not in ("npy", "npz") else None
        header_line = 1 if table.format in ("csv", "tsv") else None
    except _readers.ReadError as error:
        _read_problems(report, error, max_read_mb, submission, format)
        if error.kind != "missing_column" or _format(error.file, format) in (None, "npy", "npz"):
            return report.done()
        header, header_line = error.found_columns, error.line
        present = [c for c in columns if c in header and c != id]
        id_present = id if id is not None and id in header else None
        if present or id_present:
            table = _read(report, submission, _spec(file, id_present, present, format), max_read_mb)
    if not allow_extra_columns and header is not None:
        allowed = ([id] if id is not None else []) + [c for c in columns if c != id]
        for name in header:
            if name not in allowed:
                report.add(f"unexpected column {name!r}", line=header_line,
                           fix=f"remove it; the file may only hold the columns {', '.join(allowed)}")
    if table is None:
        return report.done()
    textual = table.format in ("csv", "tsv")
    checked = [c for c in columns if c in table.frame.columns]
    wrong_masks, empty_masks = [], []
    for name in checked:
        wrong, empty = _readers.type_errors(table.frame[name], columns[name], textual=textual)
        wrong_masks.append(wrong)
        empty_masks.append(empty if columns[name] != "float" else np.zeros_like(empty))
    rows, which = _by_row([w | e for w, e in zip(wrong_masks, empty_masks)])

    def describe(row: int, k: int) -> tuple[str, str]:
        name, kind = checked[k], columns[checked[k]]
        fix = f"write {_readers.example_of(kind)} in column {name!r}"
        if empty_masks[k][row]:
            return f"column {name!r} is empty", fix
        return f"column {name!r} holds {_readers.short(table.frame[name].iat[row])}, not {_a(kind)}", fix

    report.rows(table, rows, describe, which)
    return report.done()


@check(id="aibench.ids", params_schema=_IDS)
def ids(submission: Path, *, file: str, id: str | None, reference_file: str, format: str | None = None,
        reference_format: str | None = None, reference_id: str | None | EllipsisType = ...,
        max_problems: int = 20, max_read_mb: float = 500,
        reference: Path | None = None) -> list[SubmissionProblem]:
    """Every id of the reference data has exactly one prediction, and every prediction's id
    is in the reference data (ids read from reference_file in the reference data folder)."""
    import numpy as np

    from aibench_plugins import data as _readers

    if reference is None:
        raise MetricInputError("aibench.ids compares the submission's ids with the reference data's: the runner must "
                         "pass the reference data folder as reference=")
    report = _Report("aibench.ids", file, max_problems)
    predictions = _read(report, submission, _spec(file, id, [], format), max_read_mb)
    if predictions is None:
        return report.done()
    ref_id = id if isinstance(reference_id, EllipsisType) else reference_id
    references = _readers.read_table(reference, _spec(reference_file, ref_id, [], reference_format))  # organiser's file
    if id is None or ref_id is None:
        if len(predictions) != len(references):
            report.add(f"has {len(predictions)} rows, the reference data has {len(references)}",
                       fix=f"write one row per example of the reference data ({len(references)} rows), in its order")
        return report.done()
    _, _, aligned = _readers.align(predictions, references)
    if aligned.missing:
        shown = ", ".join(repr(i) for i in aligned.missing.first(5)) + (", ..." if aligned.missing.count > 5 else "")
        fix = "add one row for each of them: every id of the reference data needs a prediction"
        if aligned.n_matched == 0 and len(predictions):
            theirs = ", ".join(repr(_readers.id_text(i)) for i in predictions.ids[:3].tolist())
            fix += (f"; no id matches at all: the reference ids look like {shown}, the ids of column {id!r} "
                    f"like {theirs}")
        count = aligned.missing.count
        report.add(f"{count} of the {aligned.n_references} ids of the reference data "
                   f"{'has' if count == 1 else 'have'} no prediction: {shown}", fix=fix)
    duplicated, unknown = aligned.duplicated, aligned.unknown
    rows = np.concatenate([duplicated.rows, unknown.rows])
    kinds = np.concatenate([np.zeros(len(duplicated.rows), dtype=np.int64), np.ones(len(unknown.rows), dtype=np.int64)])
    firsts = dict(zip(duplicated.rows.tolist(), (duplicated.first_rows if duplicated.first_rows is not None
                                                  else np.empty(0, dtype=np.int64)).tolist()))
    order = np.argsort(rows, kind="stable")

    def describe(row: int, kind: int) -> tuple[str, str]:
        value = predictions.item(row)
        if kind == 0:
            first = firsts[row]
            line = predictions.line(first)
            where = f"line {line}" if line is not None else f"row {first + 1}"
            return (f"repeats an id first seen on {where}",
                    "keep one row per id: delete this row or the earlier one")
        if not value:
            return f"the id is empty (column {id!r})", "write the id of the example this row predicts"
        return "id not in the reference data", "remove this row: predict only the ids of the reference data"

    report.rows(predictions, rows[order], describe, kinds[order])
    return report.done()


@check(id="aibench.finite", params_schema=_FINITE)
def finite(submission: Path, *, file: str, id: str | None, columns: Sequence[str], format: str | None = None,
           max_problems: int = 20, max_read_mb: float = 500) -> list[SubmissionProblem]:
    """No NaN, empty or infinite value (nor text) in the listed numeric columns."""
    import numpy as np

    from aibench_plugins import data as _readers

    report = _Report("aibench.finite", file, max_problems)
    table = _read(report, submission, _spec(file, id, columns, format), max_read_mb)
    if table is None:
        return report.done()
    names = [c for c in columns if c != id]
    numbers = [_numbers(table.frame[c]) for c in names]
    rows, which = _by_row([~np.isfinite(v) for v in numbers])

    def describe(row: int, k: int) -> tuple[str, str]:
        name, value = names[k], numbers[k][row]
        fix = f"write a finite number in column {name!r} (replace NaN and infinity, e.g. by a clipped value)"
        original = table.frame[name].iat[row]
        if not np.isnan(value):
            return f"column {name!r} is {value}", fix
        if _pandas().isna(original):
            return f"column {name!r} is empty or NaN", fix
        return f"column {name!r} holds {_readers.short(original)}, not a number", fix

    report.rows(table, rows, describe, which)
    return report.done()


@check(id="aibench.value_range", params_schema=_RANGE)
def value_range(submission: Path, *, file: str, id: str | None, columns: Mapping[str, Mapping[str, float]],
                format: str | None = None, max_problems: int = 20,
                max_read_mb: float = 500) -> list[SubmissionProblem]:
    """Values of each listed column between its min and max, bounds included (values that are
    not numbers are left to aibench.finite and aibench.table_schema)."""
    import numpy as np

    report = _Report("aibench.value_range", file, max_problems)
    names = [c for c in columns if c != id]
    table = _read(report, submission, _spec(file, id, names, format), max_read_mb)
    if table is None:
        return report.done()
    numbers = [_numbers(table.frame[c]) for c in names]
    masks = []
    with np.errstate(invalid="ignore"):
        for name, values in zip(names, numbers):
            low, high = columns[name].get("min", -np.inf), columns[name].get("max", np.inf)
            masks.append((values < low) | (values > high))
    rows, which = _by_row(masks)

    def describe(row: int, k: int) -> tuple[str, str]:
        name, value = names[k], float(numbers[k][row])
        bounds = columns[name]
        if "min" in bounds and value < bounds["min"]:
            message = f"column {name!r} is {value:g}, below the minimum {bounds['min']:g}"
        else:
            message = f"column {name!r} is {value:g}, above the maximum {bounds['max']:g}"
        if "min" in bounds and "max" in bounds:
            fix = f"keep column {name!r} between {bounds['min']:g} and {bounds['max']:g}"
        elif "min" in bounds:
            fix = f"keep column {name!r} at or above {bounds['min']:g}"
        else:
            fix = f"keep column {name!r} at or below {bounds['max']:g}"
        return message, fix

    report.rows(table, rows, describe, which)
    return report.done()


@check(id="aibench.label_set", params_schema=_LABELS)
def label_set(submission: Path, *, file: str, id: str | None, column: str, labels: Sequence[Any] | None = None,
              format: str | None = None, max_problems: int = 20, max_read_mb: float = 500,
              concepts: Sequence[Any] | None = None) -> list[SubmissionProblem]:
    """Every label of the label column is one of the allowed labels (params.labels, or the
    manifest's concepts)."""
    import numpy as np

    from aibench_plugins import data as _readers

    labels = labels or concepts
    if not labels:
        raise MetricInputError("aibench.label_set needs the allowed labels: give params.labels, or concepts in the "
                         "manifest")
    report = _Report("aibench.label_set", file, max_problems)
    table = _read(report, submission, _spec(file, id, [column], format, {column: "str"}), max_read_mb)
    if table is None:
        return report.done()
    pd = _pandas()
    allowed = [str(label) for label in labels]
    series = table.frame[column]
    empty = np.asarray(series.isna().to_numpy(), dtype=bool)
    text = series if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(series.dtype) \
        else series.astype(str)
    if pd.api.types.is_float_dtype(series.dtype):  # labels 0, 1 stored as 0.0, 1.0 (JSON, NumPy)
        values = np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        integral = np.isfinite(values) & (values == np.round(values))
        whole = pd.Series(np.where(integral, values, 0).astype(np.int64), index=series.index).astype(str)
        text = text.where(~integral, whole)
    known = np.asarray(text.isin(allowed).to_numpy(), dtype=bool)
    rows = np.flatnonzero(~known | empty)
    suggestions: dict[str, str | None] = {}

    def describe(row: int, _: int) -> tuple[str, str]:
        fix = f"use one of the allowed labels: {_listing(allowed)}"
        if empty[row]:
            return f"column {column!r} is empty", fix
        value = str(text.iat[row])
        if value not in suggestions:
            suggestions[value] = _readers.suggest(value, allowed)
        if suggestions[value] is not None:
            fix = f"did you mean {suggestions[value]!r}? Otherwise {fix}"
        return f"label {value!r} is not an allowed label", fix

    report.rows(table, rows, describe)
    return report.done()


@check(id="aibench.probabilities", params_schema=_PROBABILITIES)
def probabilities(submission: Path, *, file: str, id: str | None, columns: Sequence[str], format: str | None = None,
                  tolerance: float = 1e-3, max_problems: int = 20,
                  max_read_mb: float = 500) -> list[SubmissionProblem]:
    """Each row's probabilities are numbers in [0, 1] that sum to one within the tolerance."""
    import numpy as np

    from aibench_plugins import data as _readers

    report = _Report("aibench.probabilities", file, max_problems)
    names = [c for c in columns if c != id]
    table = _read(report, submission, _spec(file, id, names, format), max_read_mb)
    if table is None:
        return report.done()
    matrix = np.column_stack([_numbers(table.frame[c]) for c in names]) if len(table) else np.empty((0, len(names)))
    outside = ~((matrix >= 0) & (matrix <= 1))  # NaN is outside too
    bad_value = np.asarray(outside.any(axis=1), dtype=bool)
    first_bad = np.asarray(outside.argmax(axis=1))
    sums = matrix.sum(axis=1)
    bad_sum = ~bad_value & (np.abs(sums - 1) > tolerance)
    rows = np.flatnonzero(bad_value | bad_sum)
    listed = ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])}, ... ({len(names)} columns)"

    def describe(row: int, _: int) -> tuple[str, str]:
        if bad_value[row]:
            name = names[int(first_bad[row])]
            value = matrix[row, int(first_bad[row])]
            fix = "write probabilities between 0 and 1 (apply a softmax to scores)"
            if not np.isnan(value):
                return f"column {name!r} is {value:g}, outside [0, 1]", fix
            original = table.frame[name].iat[row]
            if _pandas().isna(original):
                return f"column {name!r} is empty or NaN", fix
            return f"column {name!r} holds {_readers.short(original)}, not a probability", fix
        return (f"the probabilities sum to {sums[row]:.6g}, not 1 (tolerance {tolerance:g})",
                f"divide {listed} by their sum on each row")

    report.rows(table, rows, describe)
    return report.done()


@hookimpl
def aibench_register_checks(register: Any) -> None:
    for component in (table_schema, ids, finite, value_range, label_set, probabilities):
        register(component)
