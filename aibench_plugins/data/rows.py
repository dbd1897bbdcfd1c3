"""What a row of values means once read: missing values (``missing: error | skip``) and
rows of several columns read as one label (``read_as: onehot | argmax``).

Missing is what pandas reads as missing: an empty cell, ``NA``, ``N/A``, ``NaN``,
``nan``, ``null``, a JSON ``null``, a NumPy NaN. With ``missing: skip`` a row holding one
in any value column is marked in :attr:`Table.missing_rows`; :func:`~.align.align`
leaves such reference rows out (as a scorer's ``nanmean`` does) and counts them.

A one-hot row holds the number 1 in one column and 0 in the others (``1.0`` and
``0.0`` too); an argmax row holds numbers, and its label is the position of the largest
(the first on ties). The label is the 0-based position of that column among the
declared ``columns``: class 0, 1, 2, ... as ``numpy.argmax(rows, axis=1)`` gives it, and
the column order of a probability table (``aibench.log_loss`` takes class ``k`` for its
column ``k``). Errors name the line, the column (and its field number) and the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .tables import ReadError, Table, TableSpec, import_pandas, short

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["apply_row_rules"]


def apply_row_rules(table: Table, spec: TableSpec) -> None:
    """Apply ``spec.missing`` and ``spec.read_as`` to a table just read (after its types).

    :raises ReadError: ``missing: error`` and a value is missing; a one-hot row that is not
        one 1 and 0 elsewhere; an argmax row holding something that is not a number.
    """
    import numpy as np

    if spec.missing is None and spec.read_as is None:
        return
    missing = _missing(table)
    if spec.missing == "error" and missing.any():
        row, column = _first(table, missing)
        raise ReadError(f"{_where(table, row, column)} has no value (an empty cell, NA, NaN or null)", file=table.file,
                        line=table.line(row), item=table.item(row), kind="invalid",
                        fix=f"write a value in column {column!r} of every row (a references table may declare "
                            "\"missing\": \"skip\" to leave such rows out instead)")
    rows: NDArray[Any] = np.asarray(missing.any(axis=1), dtype=bool)
    if spec.missing == "skip":
        table.missing_rows = rows
    if spec.read_as is not None:
        _read_labels(table, spec.read_as, rows if spec.missing == "skip" else None)


def _missing(table: Table) -> NDArray[Any]:
    """``(n, k)`` mask of the missing values of the value columns."""
    import numpy as np

    if table.array is not None:
        values = table.array.reshape(len(table.array), -1)
        if values.dtype.kind == "f":
            return np.asarray(np.isnan(values).any(axis=1), dtype=bool)[:, None]
        return np.zeros((len(values), 1), dtype=bool)
    if not table.columns:
        return np.zeros((len(table), 0), dtype=bool)
    return np.asarray(table.frame[list(table.columns)].isna().to_numpy(), dtype=bool)


def _first(table: Table, mask: NDArray[Any]) -> tuple[int, str]:
    """The row and the column of the first ``True`` of a ``(n, k)`` mask of the value columns."""
    import numpy as np

    row, position = (int(v) for v in np.argwhere(mask)[0])
    return row, table.columns[min(position, len(table.columns) - 1)]


def _where(table: Table, row: int, column: str) -> str:
    """``line 7, column 'p2' (field 3)`` or ``row 7, column 'p2'`` where the format has no lines."""
    line = table.line(row)
    at = f"line {line}" if line is not None else f"row {row + 1}"
    field = f" (field {table.header.index(column) + 1})" if table.header and column in table.header else ""
    return f"{at}, column {column!r}{field}"


def _listed(columns: list[str], limit: int = 8) -> str:
    return ", ".join(columns[:limit]) + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def _read_labels(table: Table, read_as: str, skipped: NDArray[Any] | None) -> None:
    """Set ``table.labels``: the position of each row's 1 (one-hot) or largest value (argmax)."""
    import numpy as np

    pd = import_pandas()
    columns = list(table.columns)
    frame = table.frame[columns]
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    values = np.asarray(numbers.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    keep = np.ones(len(values), dtype=bool) if skipped is None else ~skipped
    shown = "one-hot" if read_as == "onehot" else "argmax"
    with np.errstate(invalid="ignore"):
        wrong = ~np.isfinite(values) & keep[:, None]
        if read_as == "onehot":
            wrong |= ~np.isin(values, (0.0, 1.0)) & keep[:, None]
    if wrong.any():
        row, position = (int(v) for v in np.argwhere(wrong)[0])
        raw = frame.iat[row, position]
        what = "is empty" if bool(pd.isna(raw)) else f"holds {short(raw)}"
        expected = "0 or 1" if read_as == "onehot" else "a number"
        raise ReadError(f"{_where(table, row, columns[position])} {what}; a {shown} row of the columns "
                        f"{_listed(columns)} holds {expected} in each", file=table.file, line=table.line(row),
                        item=table.item(row), kind="invalid",
                        fix=f"write {expected} in column {columns[position]!r} of every row")
    if read_as == "onehot":
        ones = (values == 1.0).sum(axis=1)
        bad = np.flatnonzero((ones != 1) & keep)
        if len(bad):
            row = int(bad[0])
            hot = [c for c, v in zip(columns, values[row]) if v == 1.0]
            line = table.line(row)
            at = f"line {line}" if line is not None else f"row {row + 1}"
            what = "has no 1" if not hot else f"has {len(hot)} ones (columns {', '.join(map(repr, hot))})"
            raise ReadError(f"{at} {what}; a one-hot row holds exactly one 1, in the column of its class, and 0 "
                            f"in the others ({_listed(columns)})", file=table.file, line=line,
                            item=table.item(row), kind="invalid",
                            fix="write one 1 per row, or read the rows as scores with \"read_as\": \"argmax\"")
    filled = np.where(np.isfinite(values), values, -np.inf)
    labels = np.argmax(filled, axis=1).astype(np.int64) if len(columns) else np.zeros(len(values), dtype=np.int64)
    table.labels = labels
    table.__dict__.pop("values", None)
