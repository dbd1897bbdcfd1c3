"""Joining predictions to references *on their ids*, never on row order:
:func:`align` returns the aligned values and an :class:`AlignReport` of duplicated,
missing and unknown ids (:class:`IdIssue`).

Ids are hashed once into integer codes (integer ids in a compact range are their own
codes; text ids are encoded by pyarrow when it is installed, by pandas otherwise), and
the join is a few vectorised passes over the codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import tables as _tables  # has_pyarrow() is looked up there at call time: tests switch pyarrow off
from .tables import ReadError, Table, id_text, import_pandas, import_pyarrow

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["AlignReport", "IdIssue", "align"]



@dataclass(frozen=True)
class IdIssue:
    """Rows whose id is a problem: ``rows`` (0-based, in the table the ids come from) and
    their ``ids``. For duplicates, ``first_rows`` holds the row of each id's first
    occurrence."""

    rows: NDArray[Any]
    ids: NDArray[Any]
    first_rows: NDArray[Any] | None = None

    @property
    def count(self) -> int:
        return len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return len(self.rows) > 0

    def first(self, n: int = 5) -> list[str]:
        """The first ``n`` ids, as text."""
        return [id_text(v) for v in self.ids[:n].tolist()]


@dataclass(frozen=True)
class AlignReport:
    """What :func:`align` found.

    ``reference_rows`` are the rows of the references kept (every reference row whose
    id has a prediction, in reference order) and ``prediction_rows`` the prediction row
    matched to each: use them to align further columns. ``duplicated``: prediction rows
    repeating an earlier id (the first occurrence is used); ``missing``: reference rows
    whose id no prediction has; ``unknown``: prediction rows whose id is not in the
    references; ``duplicated_references``: reference rows repeating an id; ``skipped``:
    reference rows left out because a value is missing (a references table read with
    ``missing: skip``; a prediction of such an id is neither required nor unknown).
    """

    predictions_file: str
    references_file: str
    n_predictions: int
    n_references: int
    reference_rows: NDArray[Any]
    prediction_rows: NDArray[Any]
    duplicated: IdIssue
    missing: IdIssue
    unknown: IdIssue
    duplicated_references: IdIssue
    skipped: IdIssue | None = None

    @property
    def n_skipped(self) -> int:
        """Reference rows left out because a value is missing (``missing: skip``)."""
        return self.skipped.count if self.skipped is not None else 0

    @property
    def n_matched(self) -> int:
        return len(self.reference_rows)

    @property
    def ok(self) -> bool:
        """No duplicated, missing or unknown id."""
        return not (self.duplicated or self.missing or self.unknown or self.duplicated_references)

    def messages(self) -> list[str]:
        """One sentence per kind of problem, with counts and the first few ids."""
        out = []

        def ids(issue: IdIssue) -> str:
            shown = ", ".join(repr(i) for i in issue.first())
            return f"{shown}, ..." if issue.count > 5 else shown

        if self.duplicated:
            out.append(f"{self.predictions_file}: {self.duplicated.count} rows repeat an earlier id "
                       f"({ids(self.duplicated)}); "
                       "the first row of each id is used")
        if self.missing:
            out.append(f"{self.predictions_file}: {self.missing.count} of the {self.n_references} ids of "
                       f"{self.references_file} have no prediction ({ids(self.missing)})")
        if self.unknown:
            out.append(f"{self.predictions_file}: {self.unknown.count} rows have an id that is not in "
                       f"{self.references_file} ({ids(self.unknown)})")
        if self.duplicated_references:
            out.append(f"{self.references_file}: {self.duplicated_references.count} rows repeat an earlier id "
                       f"({ids(self.duplicated_references)})")
        return out

    def __str__(self) -> str:
        skipped = (f" ({self.n_skipped} rows with a missing reference value left out)" if self.n_skipped else "")
        return "; ".join(self.messages()) or (f"all {self.n_references - self.n_skipped} ids of "
                                              f"{self.references_file} matched once in {self.predictions_file}"
                                              + skipped)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Ids of two tables in one type: text on both sides when one side is text and the
    other numbers (``7`` in one file, ``"7"`` in the other; integral floats lose ``.0``)."""
    import numpy as np

    pd = import_pandas()
    api = pd.api.types

    def textual(index: Any) -> bool:
        return not api.is_numeric_dtype(index.dtype) or api.is_bool_dtype(index.dtype)

    if textual(left) == textual(right):
        return left, right

    def as_text(index: Any) -> Any:
        if textual(index):
            return index
        if api.is_float_dtype(index.dtype):
            values = index.to_numpy()
            if np.all(np.isfinite(values) & (values == np.floor(values))):
                index = index.astype("int64")
        return index.astype(str)

    return as_text(left), as_text(right)


def _arrow(index: Any) -> Any:
    """The ids as one pyarrow array (None when they do not convert: mixed types)."""
    pyarrow = import_pyarrow()
    try:
        array = index.array
        if hasattr(array, "__arrow_array__"):
            converted = array.__arrow_array__()
        else:
            converted = pyarrow.array(index.to_numpy(), from_pandas=True)
    except (pyarrow.ArrowException, TypeError, ValueError):
        return None
    if isinstance(converted, pyarrow.ChunkedArray):
        converted = converted.combine_chunks()
    if pyarrow.types.is_string(converted.type) or pyarrow.types.is_large_string(converted.type):
        converted = converted.cast(pyarrow.large_string())
    return converted


def _codes(*indexes: Any) -> tuple[list[NDArray[Any]], int]:
    """Integer codes of the ids of each index (equal ids, equal codes; ``-1`` for a missing
    id) and the number of codes. Integer ids in a compact range are their own codes (no
    hashing); text ids are hashed once by pyarrow when it is installed, pandas otherwise."""
    import numpy as np

    pd = import_pandas()
    api = pd.api.types
    sizes = np.cumsum([0] + [len(i) for i in indexes])

    def split(codes: NDArray[Any]) -> list[NDArray[Any]]:
        return [codes[sizes[k]:sizes[k + 1]] for k in range(len(indexes))]

    if all(api.is_integer_dtype(i.dtype) and not api.is_bool_dtype(i.dtype) for i in indexes):
        arrays = [np.asarray(i.to_numpy(), dtype=np.int64) for i in indexes]
        filled = [a for a in arrays if len(a)]
        if filled:
            low = min(int(a.min()) for a in filled)
            span = max(int(a.max()) for a in filled) - low + 1
            if span <= 4 * int(sizes[-1]) + 1024:
                return [a - low for a in arrays], span
        else:
            return arrays, 0
    if _tables.has_pyarrow() and not all(api.is_numeric_dtype(i.dtype) for i in indexes):
        pyarrow = import_pyarrow()
        arrow_arrays: list[Any] = [_arrow(i) for i in indexes]
        if all(a is not None for a in arrow_arrays) and len({a.type for a in arrow_arrays}) == 1:
            joined = pyarrow.concat_arrays(arrow_arrays) if len(arrow_arrays) > 1 else arrow_arrays[0]
            encoded = joined.dictionary_encode()
            codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
            return split(codes), len(encoded.dictionary)
    series = [pd.Series(i, copy=False) for i in indexes]
    codes, uniques = pd.factorize(pd.concat(series, ignore_index=True) if len(series) > 1 else series[0])
    return split(np.asarray(codes, dtype=np.int64)), len(uniques)


def _repeats(codes: NDArray[Any], size: int) -> NDArray[Any]:
    """Rows whose code appeared on an earlier row (boolean mask; missing ids never repeat)."""
    import numpy as np

    valid = codes >= 0
    if not valid.any() or np.bincount(codes[valid], minlength=size).max() <= 1:
        return np.zeros(len(codes), dtype=bool)
    return np.asarray(import_pandas().Series(codes).duplicated(keep="first").to_numpy(), dtype=bool) & valid


def _same_item_shape(predictions: Table, references: Table) -> None:
    """Label maps (values of 3 or more dimensions) must have the references' size."""
    pred, ref = predictions.values, references.values
    if max(pred.ndim, ref.ndim) < 3 or pred.shape[1:] == ref.shape[1:]:
        return

    def size(shape: tuple[int, ...]) -> str:
        return "one value" if not shape else "x".join(str(d) for d in shape)

    raise ReadError(f"values have shape {pred.shape} (each row {size(pred.shape[1:])}) but the values of "
                    f"{references.file} have shape {ref.shape} (each row {size(ref.shape[1:])})",
                    file=predictions.file, kind="invalid",
                    fix=f"save values of shape (n{''.join(f', {d}' for d in ref.shape[1:])}), the shape of the "
                        "references' rows")


def align(predictions: Table, references: Table) -> tuple[NDArray[Any], NDArray[Any], AlignReport]:
    """Join predictions to references on their ids (vectorised, never on row order).

    Returns ``(prediction_values, reference_values, report)``: the values of every
    reference row whose id has a prediction (less the rows of a references table read with
    ``missing: skip`` that hold a missing value: ``report.skipped``), in reference order, and the prediction of
    the same id. A duplicated prediction id uses its first row; reference ids without a
    prediction and predictions of unknown ids are left out and reported. Tables read in
    row order (no id column) are joined by row number. Ids that are numbers on one side
    and text on the other are compared as text.

    NumPy tables of 3 or more dimensions (label maps, ``(n, h, w)``) are joined the same
    way: the values returned are ``(n_matched, h, w)`` arrays in reference order.

    :raises ReadError: one table has values of 3 or more dimensions and the other's
        rows have another shape (masks of another size, or one value per row).
    """
    import numpy as np

    _same_item_shape(predictions, references)
    pred_index, ref_index = _comparable(predictions.id_index(), references.id_index())
    n, m = len(pred_index), len(ref_index)
    empty = np.empty(0, dtype=np.int64)

    def issue(index: Any, at: NDArray[Any], first: NDArray[Any] | None = None) -> IdIssue:
        return IdIssue(at, np.asarray(index[at].to_numpy()) if len(at) else np.empty(0, dtype=object), first)

    skip = references.missing_rows
    skip = skip if skip is not None and skip.any() else None
    if n == m and skip is None and pred_index.equals(ref_index):  # the same ids in the same order: one pass
        [codes], size = _codes(ref_index)
        if not _repeats(codes, size).any() and (codes >= 0).all():
            rows = np.arange(n)
            none = issue(ref_index, empty)
            report = AlignReport(predictions.file, references.file, n, m, rows, rows, none, none, none, none)
            return predictions.values, references.values, report

    [pred_codes, ref_codes], size = _codes(pred_index, ref_index)

    repeated = _repeats(pred_codes, size)
    keep = ~repeated & (pred_codes >= 0)
    rows = np.arange(n)
    position = np.full(size, -1, dtype=np.int64)
    position[pred_codes[keep]] = rows[keep]

    ref_valid = ref_codes >= 0
    match = np.full(m, -1, dtype=np.int64)
    match[ref_valid] = position[ref_codes[ref_valid]]
    found = match >= 0
    if skip is not None:
        found &= ~skip
    reference_rows = np.flatnonzero(found)
    matched = match[reference_rows]

    in_references = np.zeros(size, dtype=bool)
    in_references[ref_codes[ref_valid]] = True
    known = np.zeros(n, dtype=bool)
    known[keep] = in_references[pred_codes[keep]]
    unknown_rows = np.flatnonzero(~known & ~repeated)

    duplicated_rows = np.flatnonzero(repeated)
    first_rows = position[pred_codes[duplicated_rows]]
    missing_rows = np.flatnonzero(~found if skip is None else ~found & ~skip)
    ref_duplicated = np.flatnonzero(_repeats(ref_codes, size))

    report = AlignReport(predictions.file, references.file, n, m, reference_rows, matched,
                         issue(pred_index, duplicated_rows, first_rows), issue(ref_index, missing_rows),
                         issue(pred_index, unknown_rows), issue(ref_index, ref_duplicated),
                         issue(ref_index, np.flatnonzero(skip)) if skip is not None else None)
    if len(matched) == n and len(reference_rows) == m and bool(np.all(matched == rows)):
        prediction_values = predictions.values  # same ids in the same order: no copy
    else:
        prediction_values = predictions.values[matched]
    reference_values = references.values if len(reference_rows) == m else references.values[reference_rows]
    return prediction_values, reference_values, report
