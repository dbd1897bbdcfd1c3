"""What a table is: :class:`TableSpec` declares where a table is and what it holds,
:class:`Table` is one that was read (ids, values, column names, the line of each row),
:class:`ReadError` says why one could not be read, and :func:`type_errors` tells which
values of a column are not of a declared type.

Line numbers are 1-based and count the header as line 1, so the first row of a CSV is
on line 2 and the first record of a JSONL file on line 1 (exact even with blank or
multi-line rows: the line of a CSV row is computed from the file when rows and lines
differ). JSON and NumPy rows have no line; problems name their id instead.

pandas and pyarrow are imported on first use (:func:`import_pandas`,
:func:`import_pyarrow`), so that importing this module stays cheap.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core.errors import ReadError, TableSpecError
from ..core.problems import did_you_mean

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DTYPES",
    "FORMATS",
    "MIB",
    "SEPARATORS",
    "DELIMITERS",
    "EVERY_COLUMN",
    "MISSING",
    "READ_AS",
    "CsvLines",
    "DType",
    "Format",
    "Lines",
    "ListedLines",
    "Missing",
    "ReadAs",
    "ReadError",
    "Table",
    "TableSpec",
    "apply_dtypes",
    "column_array",
    "example_of",
    "has_pyarrow",
    "id_text",
    "import_pandas",
    "import_pyarrow",
    "require_columns",
    "short",
    "suggest",
    "type_errors",
]

Format = Literal["csv", "tsv", "json", "jsonl", "npy", "npz"]
DType = Literal["int", "float", "str", "bool"]
FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "jsonl", "npy", "npz")
DTYPES: tuple[str, ...] = ("int", "float", "str", "bool")
SEPARATORS = {"csv": ",", "tsv": "\t"}
#: field delimiters of a CSV or TSV file, and how a message names them; ``whitespace`` is any run
#: of spaces and tabs (leading and trailing ones ignored), as in whitespace-separated matrices
DELIMITERS = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "vertical bars", " ": "single spaces",
              "whitespace": "spaces or tabs"}
#: ``columns`` naming every column of the file but the id, in file order
EVERY_COLUMN = "*"
ReadAs = Literal["onehot", "argmax"]
Missing = Literal["error", "skip"]
READ_AS: tuple[str, ...] = ("onehot", "argmax")
MISSING: tuple[str, ...] = ("error", "skip")
MIB = 1024 * 1024
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def import_pandas() -> Any:
    """pandas, imported on first use (it has no type information: every value is Any)."""
    import importlib

    return importlib.import_module("pandas")


def import_pyarrow() -> Any:
    """pyarrow, imported on first use (optional; see :func:`has_pyarrow`)."""
    import importlib

    return importlib.import_module("pyarrow")


@lru_cache(maxsize=1)
def has_pyarrow() -> bool:
    """Whether pyarrow is importable (then CSV files are read by pandas' pyarrow engine)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


@dataclass(frozen=True)
class TableSpec:
    """Where a table is and what it holds.

    :param file: glob pattern relative to the folder read (``predictions.csv``,
        ``*.csv``, ``**/predictions.csv``); exactly one file must match.
    :param id: the id column (for ``npz``, any name: ids come from the array ``ids``),
        or ``None`` to read the rows in order. There is no default: reading in row order
        must be asked for explicitly.
    :param columns: the value columns: one for labels or values, several for per-class
        probabilities or scores. May be empty when only the ids are needed.
    :param format: ``csv``, ``tsv``, ``json``, ``jsonl``, ``npy``, ``npz``, or ``None``
        to take it from the file's extension.
    :param dtypes: column -> ``int``, ``float``, ``str`` or ``bool``: convert the column
        (a value that does not convert is a :class:`ReadError` naming its line). ``str``
        keeps a CSV column's text as written (``007`` stays ``"007"``); other columns
        get the type pandas infers.
    :param names: CSV/TSV only: the file has no header line, and these name its fields, in
        order (every line must have exactly that many fields).
    :param header: CSV/TSV only: ``False`` for a file without a header line whose fields
        are named by position, ``"1"``, ``"2"``, ... (``names`` implies ``False``).
    :param delimiter: CSV/TSV only: the field delimiter (a key of :data:`DELIMITERS`;
        ``whitespace`` is any run of spaces and tabs), by default the format's.
    :param read_as: read the value columns (two or more) as one label per row: ``onehot``
        (each row holds one 1 and 0 elsewhere) or ``argmax`` (the largest value, the first
        on ties); the label is the 0-based position of that column among ``columns``.
    :param missing: what a missing value (an empty cell, ``NA``, ``NaN``, ``null``) of a
        value column means: ``error`` refuses the file at the first one (line and column),
        ``skip`` keeps the rows but marks them (:attr:`Table.missing_rows`; :func:`align`
        leaves such reference rows out, as ``nanmean`` does); ``None`` passes them on.

    ``columns`` may be ``"*"`` (:data:`EVERY_COLUMN`): every column of the file but the id,
    in file order (CSV/TSV only).
    """

    file: str
    _: KW_ONLY
    id: str | None
    columns: Sequence[str] = ()
    format: Format | None = None
    dtypes: Mapping[str, DType] = field(default_factory=dict)
    names: Sequence[str] | None = None
    header: bool = True
    delimiter: str | None = None
    read_as: ReadAs | None = None
    missing: Missing | None = None

    def __post_init__(self) -> None:
        columns = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "dtypes", dict(self.dtypes))
        if not isinstance(self.file, str) or not self.file:
            raise TableSpecError(f"TableSpec.file must be a non-empty glob pattern, got {self.file!r}")
        if self.format is not None and self.format not in FORMATS:
            raise TableSpecError(f"TableSpec.format must be one of {', '.join(FORMATS)} or None, got {self.format!r}")
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise TableSpecError(f"TableSpec.id must be a column name or None, got {self.id!r}")
        if not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
            raise TableSpecError(f"TableSpec.columns must be distinct non-empty names, got {list(columns)!r}")
        if self.id is not None and self.id in columns:
            raise TableSpecError(f"TableSpec: the id column {self.id!r} cannot also be a value column")
        self._check_shape(columns)
        for name, kind in self.dtypes.items():
            if name not in columns and name != self.id and not self.every_column:
                raise TableSpecError(f"TableSpec.dtypes names {name!r}, which is not a declared column")
            if kind not in DTYPES:
                raise TableSpecError(f"TableSpec.dtypes[{name!r}] must be one of {', '.join(DTYPES)}, got {kind!r}")

    def _check_shape(self, columns: tuple[str, ...]) -> None:
        """The options for files without a header, delimiters, one-hot groups and missing values."""
        if self.names is not None:
            names = tuple(self.names)
            object.__setattr__(self, "names", names)
            if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
                raise TableSpecError(f"TableSpec.names must be distinct non-empty names, got {list(names)!r}")
            if self.header:
                object.__setattr__(self, "header", False)
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise TableSpecError(f"TableSpec.delimiter must be one of {', '.join(map(repr, DELIMITERS))}, "
                                 f"got {self.delimiter!r}")
        if self.read_as is not None:
            if self.read_as not in READ_AS:
                raise TableSpecError(f"TableSpec.read_as must be one of {', '.join(READ_AS)} or None, "
                                     f"got {self.read_as!r}")
            if len(columns) < 2 and not self.every_column:
                raise TableSpecError(f"TableSpec.read_as {self.read_as!r} reads a row of two or more columns as "
                                     f"one label, but columns are {list(columns)!r}")
        if self.missing is not None and self.missing not in MISSING:
            raise TableSpecError(f"TableSpec.missing must be one of {', '.join(MISSING)} or None, got {self.missing!r}")

    @property
    def every_column(self) -> bool:
        """Whether ``columns`` is ``"*"``: every column of the file but the id."""
        return tuple(self.columns) == (EVERY_COLUMN,)

    @property
    def plain_text(self) -> bool:
        """Whether a CSV/TSV file is read as the format says (a header line, the format's delimiter)."""
        return self.header and self.names is None and self.delimiter is None and not self.every_column

    def resolved(self, header: Sequence[str]) -> TableSpec:
        """This spec with ``columns`` ``"*"`` replaced by the columns of ``header`` but the id."""
        if not self.every_column:
            return self
        from dataclasses import replace

        return replace(self, columns=tuple(c for c in header if c != self.id))

    @property
    def needed(self) -> list[str]:
        """The columns read: the id column (if any), then the value columns."""
        return ([self.id] if self.id is not None else []) + list(self.columns)


class Table:
    """A table read by :func:`read_table`.

    ``ids`` is the id column (``0..n-1`` when read in row order), ``values`` the value
    column (shape ``(n,)``) or columns (``(n, k)``, in the order of ``columns``),
    ``frame`` the pandas DataFrame they come from (id column first). ``header`` lists
    every column the file has (``None`` for ``npy``). :meth:`line` gives the 1-based
    line of a row when the format has lines.

    An ``npy`` or ``npz`` table whose values have 3 or more dimensions (one declared
    column of label maps, say) is held as ``array``: ``values`` is that ``(n, h, w, ...)``
    array and ``frame`` holds only the id column (no column at all in row order), one
    row per item, so ``frame[column]`` does not exist for the value column; use
    ``values`` or :meth:`column`.

    A table read with ``read_as`` (one-hot or argmax rows) has ``labels``, one 0-based
    column position per row, and ``values`` is that ``(n,)`` array; ``frame`` keeps the
    columns as read. A table read with ``missing: skip`` has ``missing_rows``, a boolean
    mask of the rows holding a missing value (``None`` otherwise).
    """

    def __init__(self, *, file: str, path: Path, format: str, frame: Any, columns: Sequence[str],
                 id_column: str | None, header: Sequence[str] | None, lines: Lines,
                 array: NDArray[Any] | None = None) -> None:
        self.file = file
        self.path = path
        self.format = format
        self.frame = frame
        self.array = array
        self.columns = tuple(columns)
        self.id_column = id_column
        self.header = tuple(header) if header is not None else None
        self._lines = lines
        self.labels: NDArray[Any] | None = None
        self.missing_rows: NDArray[Any] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"Table({self.file!r}, format={self.format!r}, rows={len(self)}, id={self.id_column!r}, "
                f"columns={list(self.columns)!r})")

    @cached_property
    def ids(self) -> NDArray[Any]:
        """The ids, one per row (row numbers from 0 when the table has no id column)."""
        import numpy as np

        if self.id_column is None:
            return np.arange(len(self))
        return np.asarray(self.frame[self.id_column].to_numpy())

    @cached_property
    def values(self) -> NDArray[Any]:
        """The values: shape ``(n,)`` for one column, ``(n, k)`` for ``k`` columns, or the
        ``(n, h, w, ...)`` array of a NumPy table of 3 or more dimensions."""
        import numpy as np

        if self.labels is not None:
            return self.labels
        if self.array is not None:
            return self.array
        if len(self.columns) == 1:
            return column_array(self.frame[self.columns[0]])
        if not self.columns:
            return np.empty((len(self), 0))
        return np.asarray(self.frame[list(self.columns)].to_numpy())

    def column(self, name: str) -> NDArray[Any]:
        """One column (the id column or a value column) as a NumPy array."""
        import numpy as np

        if self.array is not None and name in self.columns:
            return self.array
        return column_array(self.frame[name])

    def id_index(self) -> Any:
        """The ids as a pandas Index (no copy into Python objects: what :func:`align` joins on)."""
        pd = import_pandas()
        if self.id_column is None:
            return pd.RangeIndex(len(self))
        return pd.Index(self.frame[self.id_column], copy=False)

    def line(self, row: int) -> int | None:
        """The 1-based line of row ``row`` (0-based), or ``None`` when the format has no lines."""
        return self._lines.lines([row])[0]

    def lines(self, rows: Sequence[int] | NDArray[Any]) -> list[int | None]:
        """The 1-based lines of several rows (0-based), ``None`` where the format has no lines."""
        return self._lines.lines([int(r) for r in rows])

    def item(self, row: int) -> str | None:
        """The id of row ``row`` as text for a message, or ``None`` when read in row order."""
        if self.id_column is None:
            return None
        return id_text(self.frame[self.id_column].iat[row])


def column_array(series: Any) -> NDArray[Any]:
    """A column of a frame as a NumPy array; a ``Categorical`` one (a dictionary-encoded text column,
    :mod:`.arrow_csv`) by taking its categories at its codes (one pass over small integers, not one
    conversion per row), NaN where a value is missing: the same array as the column's text gives."""
    import numpy as np

    pd = import_pandas()
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return np.asarray(series.to_numpy())
    values = np.empty(len(series.cat.categories) + 1, dtype=object)
    values[:-1] = series.cat.categories.to_numpy(dtype=object)
    values[-1] = np.nan  # code -1: a missing value
    return values.take(np.asarray(series.cat.codes.to_numpy()))


def id_text(value: Any) -> str:
    """An id as shown in messages: integers without ``.0``, empty ids as ``""``."""
    pd = import_pandas()
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- messages ----------------------------------------------------------------------------------


def suggest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate ``word`` was probably meant as: the same ignoring case and surrounding
    blanks, else the closest (``did_you_mean``)."""
    folded = word.strip().casefold()
    same = [c for c in candidates if c.strip().casefold() == folded]
    return same[0] if same else did_you_mean(word, candidates)


def short(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters."""
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


_COLUMNS_LISTED = 10  # half the columns named in a message


def require_columns(needed: Sequence[str], header: Sequence[str], name: str, *, line: int | None,
                     hint: str = "") -> None:
    """Raise the ReadError of kind ``missing_column`` when ``header`` lacks a column of ``needed``:
    the columns found, and for each missing one a fix ("did you mean") or, given ``hint``, that hint."""
    missing = [c for c in needed if c not in header]
    if not missing:
        return
    listed = _COLUMNS_LISTED * 2
    found = ", ".join(short(c) for c in header[:listed]) + (", ..." if len(header) > listed else "")
    found = found or "none"
    unused = [c for c in header if c not in needed]
    fixes = []
    for column in missing:
        suggestion = None if hint else suggest(column, unused)
        if suggestion is not None:
            unused.remove(suggestion)
            fixes.append(f"column {suggestion!r} looks misspelt: did you mean {column!r}? Rename it")
        else:
            fixes.append(f"add a column {column!r}")
    what = f"no column {missing[0]!r}" if len(missing) == 1 else \
        f"no columns {', '.join(repr(c) for c in missing)}"
    raise ReadError(f"{what} (found columns: {found})", file=name, line=line,
                    fix=hint[2:] if hint else "; ".join(fixes), kind="missing_column", missing_columns=missing,
                    found_columns=header, column_fixes=() if hint else fixes)


# -- lines -------------------------------------------------------------------------------------


class Lines:
    """Row -> line; formats without lines answer ``None``."""

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        return [None for _ in rows]


class ListedLines(Lines):
    def __init__(self, lines: Sequence[int]) -> None:
        self._lines = lines

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        return [self._lines[r] for r in rows]


class CsvLines(Lines):
    """Row ``r`` is on line ``r + 2`` when the file has exactly one line per row after the
    header (checked once, by counting newlines); otherwise the file is scanned (only when a
    line is asked for, which happens for problems only)."""

    def __init__(self, path: Path, sep: str, n_rows: int, *, header: bool = True) -> None:
        self._path = path
        self._sep = sep
        self._n_rows = n_rows
        self._first = 2 if header else 1
        self._simple: bool | None = None
        self._starts: list[int] = []

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        if self._simple is None:
            self._simple = _count_lines(self._path) == self._n_rows + self._first - 1
        if self._simple:
            return [r + self._first for r in rows]
        if rows and max(rows) >= len(self._starts):
            self._starts = _record_lines(self._path, self._sep, max(rows) + 1, header=self._first == 2)
        return [self._starts[r] if r < len(self._starts) else None for r in rows]


def _count_lines(path: Path) -> int:
    """Lines of the file, not counting empty lines at its end."""
    count = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(16 * MIB):
            count += chunk.count(b"\n")
            last = (last + chunk)[-64:]
    stripped = last.rstrip(b"\r\n")
    count -= last[len(stripped):].count(b"\n")
    return count + (1 if stripped else 0)


def _text_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")


def _record_lines(path: Path, sep: str, limit: int, *, header: bool = True) -> list[int]:
    """The first line of each of the first ``limit`` rows, skipping the header and blank lines
    as pandas does (``sep`` ``whitespace``: one row per non-blank line)."""
    if sep == "whitespace":
        numbered = [n for n, text in enumerate(_text_lines(path), 1) if text.strip()]
        return numbered[1 if header else 0:][:limit]
    reader = csv.reader(_text_lines(path), delimiter=sep)
    starts: list[int] = []
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if not record:
            continue
        if header:
            header = False
            continue
        starts.append(start)
        if len(starts) >= limit:
            break
    return starts


# -- types ------------------------------------------------------------------------------------


def _instances(series: Any, types: type | tuple[type, ...]) -> NDArray[Any]:
    """Which values of an object column (JSON values, Python objects already) are of ``types``."""
    import numpy as np

    return np.fromiter((isinstance(v, types) for v in series.to_numpy()), dtype=bool, count=len(series))


def type_errors(series: Any, kind: str, *, textual: bool) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(wrong, empty)``: boolean masks of the values of ``series`` that are present but
    not of type ``kind`` (``int``, ``float``, ``str``, ``bool``), and of the missing ones
    (empty cells, ``null``, NaN).

    ``textual`` (CSV, TSV) accepts any text as ``str``, ``true``/``false``/``0``/``1``
    as ``bool`` and integral numbers (``3``, ``3.0``) as ``int``; otherwise (JSON, NumPy)
    the stored type must match (a JSON ``"0.5"`` is not a ``float``).
    """
    import numpy as np

    pd = import_pandas()
    api = pd.api.types
    dtype = series.dtype
    empty = np.asarray(series.isna().to_numpy(), dtype=bool)
    none = np.zeros(len(series), dtype=bool)
    obj = api.is_object_dtype(dtype)
    if kind == "str":
        if textual or (api.is_string_dtype(dtype) and not obj):
            return none, empty
        if obj:
            return ~_instances(series, str) & ~empty, empty
        return ~empty, empty
    if kind == "bool":
        if api.is_bool_dtype(dtype):
            return none, empty
        if textual:
            text = series.astype(str).str.strip().str.lower()
            return ~np.asarray(text.isin(_TRUE + _FALSE).to_numpy(), dtype=bool) & ~empty, empty
        if obj:
            return ~_instances(series, bool) & ~empty, empty
        return ~empty, empty
    if api.is_bool_dtype(dtype):
        return ~empty, empty
    if api.is_numeric_dtype(dtype):
        numbers, wrong = series, none
    elif textual:
        numbers = pd.to_numeric(series, errors="coerce")
        wrong = np.asarray(numbers.isna().to_numpy(), dtype=bool) & ~empty
    elif obj:  # JSON values: numbers only, not text nor booleans
        ok = _instances(series, (int, float)) & ~_instances(series, bool)
        numbers = pd.to_numeric(series.where(ok), errors="coerce")
        wrong = ~ok & ~empty
    else:  # JSON or NumPy text
        return ~empty, empty
    if kind == "float":
        return wrong, empty
    values = np.asarray(numbers.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    with np.errstate(invalid="ignore"):
        wrong = wrong | np.isinf(values) | (np.isfinite(values) & (values != np.floor(values)))
    return wrong & ~empty, empty


def apply_dtypes(table: Table, spec: TableSpec) -> None:
    if not spec.dtypes:
        return
    import numpy as np

    pd = import_pandas()
    textual = table.format in SEPARATORS
    for column, kind in spec.dtypes.items():
        if table.array is not None and column in table.columns:
            _array_dtype(table, column, kind)
            continue
        series = table.frame[column]
        wrong, empty = type_errors(series, kind, textual=textual)
        bad = wrong | empty if kind != "float" else wrong
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = "is empty" if empty[row] else \
                f"holds {series.iat[row]!r}, not {'an' if kind == 'int' else 'a'} {kind}"
            raise ReadError(f"column {column!r} {what}", file=table.file, line=table.line(row),
                            item=table.item(row) if column != table.id_column else None, kind="invalid",
                            fix=f"write {_EXAMPLES[kind]} in column {column!r}")
        if kind == "str":
            converted = series if textual else series.astype(str)
        elif kind == "bool":
            converted = series.astype(bool) if pd.api.types.is_bool_dtype(series.dtype) else \
                series.astype(str).str.strip().str.lower().isin(_TRUE)
        else:
            numbers = series if pd.api.types.is_numeric_dtype(series.dtype) else pd.to_numeric(series)
            converted = numbers.astype("float64" if kind == "float" else "int64")
        table.frame = table.frame.assign(**{column: converted})


def _array_dtype(table: Table, column: str, kind: str) -> None:
    """``apply_dtypes`` for a NumPy table of 3 or more dimensions (label maps): the array as
    a whole is converted, or the first row holding a value of another type is named."""
    import numpy as np

    array = table.array
    assert array is not None
    code = array.dtype.kind
    if kind == "str":
        table.array = array.astype(str)
    elif kind == "bool" and code == "b":
        pass
    elif kind == "float" and code in "biuf":
        table.array = array.astype(np.float64, copy=False)
    elif kind == "int" and code in "biu":
        table.array = array.astype(np.int64, copy=False)
    else:
        if kind == "int" and code == "f":
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(array) & (array == np.floor(array)))
            if not bad.any():
                table.array = array.astype(np.int64)
                table.__dict__.pop("values", None)
                return
            row = int(np.flatnonzero(bad.reshape(len(array), -1).any(axis=1))[0])
            what = f"holds {short(array[row][bad[row]].flat[0])} in row {row}, not an int"
        else:
            row = None
            what = f"holds {array.dtype} values, not {'an' if kind == 'int' else 'a'} {kind}"
        raise ReadError(f"array 'values' (column {column!r}) {what}", file=table.file,
                        item=table.item(row) if row is not None else None, kind="invalid",
                        fix=f"save {_EXAMPLES[kind]} in every cell, or declare the type the array holds")
    table.__dict__.pop("values", None)


_EXAMPLES = {"int": "a whole number such as 3", "float": "a number such as 0.25", "str": "a non-empty value",
             "bool": "true or false"}


def example_of(kind: str) -> str:
    """How a value of type ``kind`` is written, for fixes ("a whole number such as 3")."""
    return _EXAMPLES[kind]
