"""Reading predictions and references from the usual submission formats, and joining
them on their ids.

A :class:`TableSpec` declares where a table is and what it holds; :func:`read_table`
reads it into a :class:`Table` (ids, values, column names); :func:`align` joins
predictions to references *on their ids*, never on row order, and reports duplicated,
missing and unknown ids.

>>> spec = TableSpec("predictions.csv", id="id", columns=["label"])   # doctest: +SKIP
>>> predictions = read_table(submission_dir, spec)                     # doctest: +SKIP
>>> references = read_table(reference_dir, TableSpec("truth.csv", id="id", columns=["label"]))  # doctest: +SKIP
>>> y_pred, y_true, report = align(predictions, references)          # doctest: +SKIP

Formats (``format=None`` takes it from the extension: ``.csv``, ``.tsv``/``.tab``,
``.json``, ``.jsonl``/``.ndjson``, ``.npy``, ``.npz``):

``csv``, ``tsv``
    A header line naming the columns, then one row per line, UTF-8 (a BOM is
    accepted). Read by ``pandas.read_csv`` with the pyarrow engine when pyarrow is
    installed (the C engine otherwise), reading only the columns the spec names.
``json``
    Either a list of records, ``[{"id": "a", "label": "cat"}, ...]``, or a mapping
    id -> value: ``{"a": "cat"}`` (one column), ``{"a": [0.1, 0.9]}`` (the values of
    ``columns``, in order) or ``{"a": {"p_cat": 0.1, "p_dog": 0.9}}``.
``jsonl``
    One JSON object (a record) per line; blank lines are skipped.
``npy``
    One array in row order (the spec's ``id`` must be ``None``): shape ``(n,)`` for
    one column, ``(n, k)`` for ``k`` columns.
``npz``
    Arrays ``values`` (shape ``(n,)`` or ``(n, k)``) and ``ids`` (shape ``(n,)``;
    needed unless ``id`` is ``None``), as ``numpy.savez(path, ids=ids, values=values)``
    writes them. Object arrays are never read (they would need pickle).

Line numbers are 1-based and count the header as line 1, so the first row of a CSV is
on line 2 and the first record of a JSONL file on line 1 (exact even with blank or
multi-line rows: the line of a CSV row is computed from the file when rows and lines
differ). JSON and NumPy rows have no line; problems name their id instead.

Errors are :class:`ReadError`: they name the file, the line when there is one, what is
wrong and the fix (a missing file lists the files present; a missing column lists the
columns found, with "did you mean"; an unreadable line gives its number).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import AibenchError
from ._problems import did_you_mean

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "AlignReport",
    "IdIssue",
    "ReadError",
    "Table",
    "TableSpec",
    "align",
    "locate",
    "read_table",
]

Format = Literal["csv", "tsv", "json", "jsonl", "npy", "npz"]
DType = Literal["int", "float", "str", "bool"]
FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "jsonl", "npy", "npz")
DTYPES: tuple[str, ...] = ("int", "float", "str", "bool")
EXTENSIONS: Mapping[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".npy": "npy", ".npz": "npz",
}
_SEPARATORS = {"csv": ",", "tsv": "\t"}
_MIB = 1024 * 1024
_LISTED = 10  # files or columns named in a message
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def _pandas() -> Any:
    """pandas, imported on first use (it has no type information: every value is Any)."""
    import importlib

    return importlib.import_module("pandas")


def _pyarrow() -> Any:
    """pyarrow, imported on first use (optional; see :func:`has_pyarrow`)."""
    import importlib

    return importlib.import_module("pyarrow")


@lru_cache(maxsize=1)
def has_pyarrow() -> bool:
    """Whether pyarrow is importable (then CSV files are read by pandas' pyarrow engine)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


class ReadError(AibenchError, ValueError):
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
    """

    file: str
    _: KW_ONLY
    id: str | None
    columns: Sequence[str] = ()
    format: Format | None = None
    dtypes: Mapping[str, DType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        columns = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "dtypes", dict(self.dtypes))
        if not isinstance(self.file, str) or not self.file:
            raise ValueError(f"TableSpec.file must be a non-empty glob pattern, got {self.file!r}")
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"TableSpec.format must be one of {', '.join(FORMATS)} or None, got {self.format!r}")
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise ValueError(f"TableSpec.id must be a column name or None, got {self.id!r}")
        if not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
            raise ValueError(f"TableSpec.columns must be distinct non-empty names, got {list(columns)!r}")
        if self.id is not None and self.id in columns:
            raise ValueError(f"TableSpec: the id column {self.id!r} cannot also be a value column")
        for name, kind in self.dtypes.items():
            if name not in columns and name != self.id:
                raise ValueError(f"TableSpec.dtypes names {name!r}, which is not a declared column")
            if kind not in DTYPES:
                raise ValueError(f"TableSpec.dtypes[{name!r}] must be one of {', '.join(DTYPES)}, got {kind!r}")

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
    """

    def __init__(self, *, file: str, path: Path, format: str, frame: Any, columns: Sequence[str],
                 id_column: str | None, header: Sequence[str] | None, lines: _Lines) -> None:
        self.file = file
        self.path = path
        self.format = format
        self.frame = frame
        self.columns = tuple(columns)
        self.id_column = id_column
        self.header = tuple(header) if header is not None else None
        self._lines = lines

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
        """The values: shape ``(n,)`` for one column, ``(n, k)`` for ``k`` columns."""
        import numpy as np

        if len(self.columns) == 1:
            return np.asarray(self.frame[self.columns[0]].to_numpy())
        if not self.columns:
            return np.empty((len(self), 0))
        return np.asarray(self.frame[list(self.columns)].to_numpy())

    def column(self, name: str) -> NDArray[Any]:
        """One column (the id column or a value column) as a NumPy array."""
        import numpy as np

        return np.asarray(self.frame[name].to_numpy())

    def id_index(self) -> Any:
        """The ids as a pandas Index (no copy into Python objects: what :func:`align` joins on)."""
        pd = _pandas()
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


def id_text(value: Any) -> str:
    """An id as shown in messages: integers without ``.0``, empty ids as ``""``."""
    pd = _pandas()
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- lines -------------------------------------------------------------------------------------


class _Lines:
    """Row -> line; formats without lines answer ``None``."""

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        return [None for _ in rows]


class _ListedLines(_Lines):
    def __init__(self, lines: Sequence[int]) -> None:
        self._lines = lines

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        return [self._lines[r] for r in rows]


class _CsvLines(_Lines):
    """Row ``r`` is on line ``r + 2`` when the file has exactly one line per row after the
    header (checked once, by counting newlines); otherwise the file is scanned (only when a
    line is asked for, which happens for problems only)."""

    def __init__(self, path: Path, sep: str, n_rows: int) -> None:
        self._path = path
        self._sep = sep
        self._n_rows = n_rows
        self._simple: bool | None = None
        self._starts: list[int] = []

    def lines(self, rows: Sequence[int]) -> list[int | None]:
        if self._simple is None:
            self._simple = _count_lines(self._path) == self._n_rows + 1
        if self._simple:
            return [r + 2 for r in rows]
        if rows and max(rows) >= len(self._starts):
            self._starts = _record_lines(self._path, self._sep, max(rows) + 1)
        return [self._starts[r] if r < len(self._starts) else None for r in rows]


def _count_lines(path: Path) -> int:
    """Lines of the file, not counting empty lines at its end."""
    count = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(16 * _MIB):
            count += chunk.count(b"\n")
            last = (last + chunk)[-64:]
    stripped = last.rstrip(b"\r\n")
    count -= last[len(stripped):].count(b"\n")
    return count + (1 if stripped else 0)


def _text_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")


def _record_lines(path: Path, sep: str, limit: int) -> list[int]:
    """The first line of each of the first ``limit`` rows, skipping the header and blank lines
    as pandas does."""
    reader = csv.reader(_text_lines(path), delimiter=sep)
    starts: list[int] = []
    previous = 0
    header = True
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


# -- locating ---------------------------------------------------------------------------------


def locate(folder: str | Path, pattern: str) -> tuple[Path, str]:
    """The one file under ``folder`` that ``pattern`` matches, as ``(path, name relative
    to folder)``; a :class:`ReadError` lists what is there when none or several match."""
    folder = Path(folder)
    try:
        matches = sorted(p for p in folder.glob(pattern) if p.is_file())
    except (ValueError, NotImplementedError) as error:
        raise ReadError(f"{pattern!r} is not a pattern relative to the folder: {error}", file=pattern,
                        fix="write a relative pattern such as 'predictions.csv' or '**/predictions.csv'") from None
    if not matches:
        present = _listing(folder)
        suggestion = _similar_file(pattern, present)
        shown = ", ".join(present[:_LISTED]) + (f" and {len(present) - _LISTED} more" if len(present) > _LISTED else "")
        fix = f"file {suggestion!r} looks misnamed: did you mean {pattern!r}? Rename it" if suggestion else \
            f"add a file named {pattern!r}"
        raise ReadError(f"no file matches {pattern!r} (found: {shown or 'no files'})", file=pattern,
                        fix=fix, kind="missing_file")
    if len(matches) > 1:
        names = [p.relative_to(folder).as_posix() for p in matches]
        raise ReadError(f"{len(names)} files match {pattern!r}: {', '.join(names[:_LISTED])}", file=pattern,
                        fix="keep only one of them", kind="several_files")
    path = matches[0]
    name = path.relative_to(folder).as_posix()
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ReadError("is a link to a file outside the folder; it is not read", file=name,
                        fix="put the file itself in the submission, not a symbolic link", kind="unreadable")
    return path, name


def suggest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate ``word`` was probably meant as: the same ignoring case and surrounding
    blanks, else the closest (``did_you_mean``)."""
    folded = word.strip().casefold()
    same = [c for c in candidates if c.strip().casefold() == folded]
    return same[0] if same else did_you_mean(word, candidates)


def _similar_file(pattern: str, present: Sequence[str]) -> str | None:
    """A present file whose name is close to ``pattern`` (names compared without their
    extension, so that ``preds.csv`` does not look like ``notes.csv``)."""
    if any(c in pattern for c in "*?["):
        return None
    stems: dict[str, str] = {}
    for name in present:
        stems.setdefault(str(Path(name).with_suffix("")), name)
    stem = suggest(str(Path(pattern).with_suffix("")), list(stems))
    return stems[stem] if stem is not None else None


def _listing(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def format_of(name: str, declared: str | None) -> str:
    """The declared format, or the one the file's extension implies."""
    if declared is not None:
        return declared
    suffix = Path(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ReadError(f"cannot tell the format from the extension {suffix or '(none)'!r}", file=name,
                        fix=f"name the file with one of {', '.join(EXTENSIONS)}, or declare its format",
                        kind="unreadable")
    return EXTENSIONS[suffix]


# -- reading ----------------------------------------------------------------------------------


def read_table(folder: str | Path, spec: TableSpec, *, max_bytes: int | None = None,
               convert: bool = True) -> Table:
    """Read the table ``spec`` declares from ``folder``.

    :param max_bytes: refuse (``ReadError`` of kind ``too_large``) a file larger than this,
        from its size alone, without opening it.
    :param convert: apply ``spec.dtypes`` (a value that does not convert is an error).
        With ``False`` a CSV column declared ``str`` is still kept as text, but nothing is
        converted or refused: checks that report every bad value use this.
    :raises ReadError: the file is missing, too large, unreadable, or lacks a column.
    """
    path, name = locate(folder, spec.file)
    fmt = format_of(name, spec.format)
    if max_bytes is not None:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReadError(f"file is {size / _MIB:.1f} MiB, over the {max_bytes / _MIB:g} MiB read limit; "
                            "it was not read", file=name, kind="too_large", size=size,
                            fix=f"make it smaller than {max_bytes / _MIB:g} MiB (fewer decimal digits, "
                                "only the needed columns)")
    if fmt in _SEPARATORS:
        table = _read_csv(path, name, fmt, spec)
    elif fmt == "json":
        table = _read_json(path, name, spec)
    elif fmt == "jsonl":
        table = _read_jsonl(path, name, spec)
    else:
        table = _read_numpy(path, name, fmt, spec)
    if convert:
        _apply_dtypes(table, spec)
    return table


def _require_columns(needed: Sequence[str], header: Sequence[str], name: str, *, line: int | None,
                     hint: str = "") -> None:
    missing = [c for c in needed if c not in header]
    if not missing:
        return
    found = ", ".join(short(c) for c in header[:_LISTED * 2]) + (", ..." if len(header) > _LISTED * 2 else "")
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


def _csv_header(path: Path, name: str, sep: str) -> list[str]:
    with path.open("rb") as handle:
        raw = handle.readline(1 << 20)
    if not raw.strip():
        what = "file is empty" if not raw else "line 1 is empty"
        raise ReadError(f"{what}; it must start with a header line naming the columns", file=name,
                        line=None if not raw else 1, kind="unreadable",
                        fix=f"write the column names on line 1, separated by {_sep_name(sep)}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReadError(f"line 1 is not valid UTF-8 (byte {error.start + 1})", file=name, line=1,
                        kind="unreadable", fix="save the file as UTF-8") from None
    if not raw.endswith(b"\n") and len(raw) >= 1 << 20:
        raise ReadError("line 1 is longer than 1 MiB; it must be a header line naming the columns", file=name,
                        line=1, kind="unreadable",
                        fix=f"write the column names on line 1, separated by {_sep_name(sep)}")
    try:
        return next(csv.reader([text.rstrip("\r\n")], delimiter=sep), [])
    except csv.Error as error:
        raise ReadError(f"line 1 cannot be parsed: {error}", file=name, line=1, kind="unreadable",
                        fix=f"write the column names on line 1, separated by {_sep_name(sep)}") from None


def short(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters."""
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def _sep_name(sep: str) -> str:
    return {",": "commas", "\t": "tabs"}.get(sep, repr(sep))


def _read_csv(path: Path, name: str, fmt: str, spec: TableSpec) -> Table:
    pd = _pandas()
    sep = _SEPARATORS[fmt]
    header = _csv_header(path, name, sep)
    needed = spec.needed
    hint = ""
    if len(header) == 1 and len(needed) > 1:
        for other in (",", "\t", ";", "|"):
            if other != sep and other in header[0]:
                hint = (f"; the header has one column {header[0]!r}: separate the columns by "
                        f"{_sep_name(sep)}, not {_sep_name(other)}")
                break
    _require_columns(needed, header, name, line=1, hint=hint)
    for column in needed:
        if header.count(column) > 1:
            raise ReadError(f"column {column!r} appears {header.count(column)} times in the header", file=name,
                            line=1, fix=f"keep one column named {column!r}", kind="invalid")
    usecols = needed or header[:1]
    dtype = {c: str for c in needed if spec.dtypes.get(c) == "str"}
    fix = (f"give every line the {len(header)} fields of the header ({sep.join(header)}); "
           f"quote values that contain a {_sep_name(sep)[:-1]}")
    engines = ["pyarrow", "c"] if has_pyarrow() else ["c"]
    frame = None
    error: Exception | None = None
    for engine in engines:
        try:
            # the C engine does not notice a line with extra fields when given usecols
            frame = pd.read_csv(path, sep=sep, usecols=usecols if engine == "pyarrow" else None,
                                dtype=dtype or None, engine=engine)
            break
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as caught:
            error = caught
        # the line pyarrow refused, if the file has one; if not (a newline inside quotes,
        # which pyarrow does not read), the C engine reads it
        found = _first_bad_line(path, sep, len(header))
        if found is not None:
            line, what = found
            raise ReadError(f"line {line} {what}", file=name, line=line, kind="unreadable", fix=fix)
    if frame is None:
        raise ReadError(f"cannot be read as {fmt.upper()}: {error}", file=name, kind="unreadable", fix=fix)
    if _has_bytes(frame):  # pyarrow reads a column that is not UTF-8 as bytes
        found = _first_bad_line(path, sep, len(header))
        raise ReadError(f"line {found[0]} {found[1]}" if found else "is not valid UTF-8", file=name,
                        line=found[0] if found else None, kind="unreadable", fix="save the file as UTF-8")
    if not needed:
        frame = frame.iloc[:, :0]
    else:
        frame = frame[needed]
    return Table(file=name, path=path, format=fmt, frame=frame, columns=spec.columns, id_column=spec.id,
                 header=header, lines=_CsvLines(path, sep, len(frame)))


def _has_bytes(frame: Any) -> bool:
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object and len(series):
            first = series.first_valid_index()
            if first is not None and isinstance(series.at[first], bytes):
                return True
    return False


class _BadLine(Exception):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def _strict_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise _BadLine(number, f"is not valid UTF-8 (byte {error.start + 1})") from None


def _first_bad_line(path: Path, sep: str, width: int) -> tuple[int, str] | None:
    """The first line whose field count differs from the header's, or that is not text
    (called only once the fast reader failed)."""
    reader = csv.reader(_strict_lines(path), delimiter=sep, strict=True)
    try:
        for record in reader:
            if record and len(record) != width:
                return reader.line_num, f"has {len(record)} fields, the header has {width}"
    except _BadLine as bad:
        return bad.line, bad.what
    except csv.Error as error:
        return reader.line_num, f"cannot be parsed: {error}"
    return None


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _load_json(path: Path, name: str) -> Any:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ReadError(f"line {line} is not valid UTF-8", file=name, line=line, kind="unreadable",
                        fix="save the file as UTF-8") from None
    if not text.strip():
        raise ReadError("file is empty", file=name, kind="unreadable",
                        fix='write a list of records, such as [{"id": "a", "label": "cat"}]')
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReadError(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", file=name,
                        line=error.lineno, kind="unreadable",
                        fix="write valid JSON (a list of records or an object mapping ids to values)") from None


def _read_json(path: Path, name: str, spec: TableSpec) -> Table:
    pd = _pandas()
    data = _load_json(path, name)
    if isinstance(data, list):
        bad = next((i for i, record in enumerate(data) if not isinstance(record, dict)), None)
        if bad is not None:
            raise ReadError(f"record {bad} is {_json_kind(data[bad])}, not an object", file=name, kind="unreadable",
                            fix='write every record as an object, such as {"id": "a", "label": "cat"}')
        frame = pd.DataFrame.from_records(data) if data else pd.DataFrame()
        header = [str(c) for c in frame.columns]
        _require_columns(spec.needed, header, name, line=None)
        frame = frame[spec.needed] if spec.needed else frame.iloc[:, :0]
        return Table(file=name, path=path, format="json", frame=frame, columns=spec.columns, id_column=spec.id,
                     header=header, lines=_Lines())
    if isinstance(data, dict):
        return _from_mapping(data, path, name, spec)
    raise ReadError(f"holds {_json_kind(data)}; expected a list of records or an object mapping ids to values",
                    file=name, kind="unreadable", fix='write [{"id": "a", "label": "cat"}, ...] or {"a": "cat", ...}')


def _from_mapping(data: dict[str, Any], path: Path, name: str, spec: TableSpec) -> Table:
    pd = _pandas()
    id_column = spec.id or "id"
    ids = list(data)
    values = list(data.values())
    kinds = {type(v) if isinstance(v, (list, dict)) else object for v in values}
    if len(kinds) > 1:
        first = type(values[0]) if isinstance(values[0], (list, dict)) else object
        odd = next(i for i, v in enumerate(values)
                   if (type(v) if isinstance(v, (list, dict)) else object) is not first)
        raise ReadError(f"the value of id {ids[odd]!r} is {_json_kind(values[odd])}, unlike the value of id "
                        f"{ids[0]!r}", file=name, item=ids[odd], kind="unreadable",
                        fix="give every id the same kind of value (all single values, all lists or all objects)")
    kind = kinds.pop() if kinds else object
    if kind is dict:
        frame = pd.DataFrame.from_records(values)
        header = [id_column] + [str(c) for c in frame.columns]
    elif kind is list:
        width = len(spec.columns)
        bad = next((i for i, v in enumerate(values) if len(v) != width), None)
        if bad is not None:
            raise ReadError(f"the list of id {ids[bad]!r} has {len(values[bad])} values, {width} are declared "
                            f"({', '.join(spec.columns)})", file=name, item=ids[bad], kind="invalid",
                            fix=f"give each id a list of {width} values in the order {', '.join(spec.columns)}")
        frame = pd.DataFrame.from_records(values, columns=list(spec.columns)) if values else \
            pd.DataFrame(columns=list(spec.columns))
        header = [id_column, *spec.columns]
    else:
        if len(spec.columns) > 1:
            raise ReadError(f"maps each id to one value, but {len(spec.columns)} columns are declared "
                            f"({', '.join(spec.columns)})", file=name, kind="invalid",
                            fix=f'map each id to a list of values, such as {{"a": [{", ".join(["0.5"] * 2)}, ...]}}')
        column = spec.columns[0] if spec.columns else "value"
        frame = pd.DataFrame({column: pd.Series(values, dtype=None if values else object)})
        header = [id_column, column]
    frame.insert(0, id_column, pd.Series(ids, dtype=object if not ids else None))
    frame = frame.loc[:, ~frame.columns.duplicated()]
    _require_columns(spec.needed, header, name, line=None)
    return Table(file=name, path=path, format="json", frame=frame[spec.needed] if spec.needed else frame.iloc[:, :0],
                 columns=spec.columns, id_column=spec.id, header=header, lines=_Lines())


def _read_jsonl(path: Path, name: str, spec: TableSpec) -> Table:
    pd = _pandas()
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except UnicodeDecodeError:
                raise ReadError(f"line {number} is not valid UTF-8", file=name, line=number, kind="unreadable",
                                fix="save the file as UTF-8") from None
            except json.JSONDecodeError as error:
                raise ReadError(f"line {number} is not valid JSON: {error.msg} (column {error.colno})", file=name,
                                line=number, kind="unreadable",
                                fix='write one JSON object per line, such as {"id": "a", "label": "cat"}') from None
            if not isinstance(record, dict):
                raise ReadError(f"line {number} holds {_json_kind(record)}, not an object", file=name, line=number,
                                kind="unreadable",
                                fix='write one JSON object per line, such as {"id": "a", "label": "cat"}')
            records.append(record)
            lines.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    header = [str(c) for c in frame.columns]
    _require_columns(spec.needed, header, name, line=None)
    frame = frame[spec.needed] if spec.needed else frame.iloc[:, :0]
    return Table(file=name, path=path, format="jsonl", frame=frame, columns=spec.columns, id_column=spec.id,
                 header=header, lines=_ListedLines(lines))


def _read_numpy(path: Path, name: str, fmt: str, spec: TableSpec) -> Table:
    import numpy as np

    pd = _pandas()
    save = "np.savez(path, ids=ids, values=values)"
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error):
            raise ReadError("holds Python objects (dtype object), which are not read", file=name, kind="unreadable",
                            fix="save numbers or fixed-width strings: values.astype(str) or values.astype(float)") \
                from None
        raise ReadError(f"is not a NumPy file: {error}", file=name, kind="unreadable",
                        fix=f"write it with np.save(path, values) or {save}") from None
    except (OSError, EOFError) as error:
        raise ReadError(f"is not a NumPy file: {error}", file=name, kind="unreadable",
                        fix=f"write it with np.save(path, values) or {save}") from None
    if fmt == "npy":
        if not isinstance(loaded, np.ndarray):
            loaded.close()
            raise ReadError("is an .npz archive, not an .npy array", file=name, kind="unreadable",
                            fix="name it .npz, or declare format npz")
        if spec.id is not None:
            raise ReadError("an .npy file holds no ids, but the id column "
                            f"{spec.id!r} is declared", file=name, kind="invalid",
                            fix=f"save ids and values together with {save}")
        values, ids, header = loaded, None, None
    else:
        if isinstance(loaded, np.ndarray):
            raise ReadError("is a single .npy array, not an .npz archive", file=name, kind="unreadable",
                            fix=f"save it with {save}, or declare format npy and no id")
        with loaded as archive:
            header = list(archive.files)
            wanted = ["values"] + (["ids"] if spec.id is not None else [])
            for array in wanted:
                if array not in header:
                    suggestion = suggest(array, header)
                    raise ReadError(f"has no array {array!r} (found arrays: {', '.join(header) or 'none'})",
                                    file=name, kind="missing_column", missing_columns=[array], found_columns=header,
                                    fix=(f"array {suggestion!r} looks misnamed: did you mean {array!r}? "
                                         if suggestion else "")
                                    + f"save it with {save}")
            try:
                values = archive["values"]
                ids = archive["ids"] if spec.id is not None else None
            except ValueError:
                raise ReadError("holds Python objects (dtype object), which are not read", file=name,
                                kind="unreadable", fix="save numbers or fixed-width strings: ids.astype(str)") from None
        if ids is not None and (ids.ndim != 1 or len(ids) != len(values)):
            raise ReadError(f"array 'ids' has shape {ids.shape}, 'values' has shape {values.shape}", file=name,
                            kind="invalid", fix="save one id per row of values: ids of shape (n,)")
    width = len(spec.columns)
    if values.ndim == 2 and values.shape[1] == 1 and width <= 1:
        values = values[:, 0]
    if values.ndim not in (1, 2) or (values.ndim == 1 and width > 1) or (values.ndim == 2 and values.shape[1] != width):
        expected = "(n,)" if width <= 1 else f"(n, {width})"
        raise ReadError(f"values have shape {values.shape}, expected {expected} for the declared columns "
                        f"({', '.join(spec.columns) or 'none'})", file=name, kind="invalid",
                        fix=f"save an array of shape {expected}" + (f", columns in the order {', '.join(spec.columns)}"
                                                                    if width > 1 else ""))
    data: dict[str, Any] = {}
    if ids is not None and spec.id is not None:
        data[spec.id] = ids
    if width == 1:
        data[spec.columns[0]] = values
    else:
        for k, column in enumerate(spec.columns):
            data[column] = values[:, k]
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(values)), copy=False)
    return Table(file=name, path=path, format=fmt, frame=frame, columns=spec.columns, id_column=spec.id,
                 header=header, lines=_Lines())


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

    pd = _pandas()
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


def _apply_dtypes(table: Table, spec: TableSpec) -> None:
    if not spec.dtypes:
        return
    import numpy as np

    pd = _pandas()
    textual = table.format in _SEPARATORS
    for column, kind in spec.dtypes.items():
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


_EXAMPLES = {"int": "a whole number such as 3", "float": "a number such as 0.25", "str": "a non-empty value",
             "bool": "true or false"}


def example_of(kind: str) -> str:
    """How a value of type ``kind`` is written, for fixes ("a whole number such as 3")."""
    return _EXAMPLES[kind]


# -- joining ----------------------------------------------------------------------------------


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
    references; ``duplicated_references``: reference rows repeating an id.
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
        return "; ".join(self.messages()) or (f"all {self.n_references} ids of {self.references_file} matched "
                                              f"once in {self.predictions_file}")


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Ids of two tables in one type: text on both sides when one side is text and the
    other numbers (``7`` in one file, ``"7"`` in the other; integral floats lose ``.0``)."""
    import numpy as np

    pd = _pandas()
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
    pyarrow = _pyarrow()
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

    pd = _pandas()
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
    if has_pyarrow() and not all(api.is_numeric_dtype(i.dtype) for i in indexes):
        pyarrow = _pyarrow()
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
    return np.asarray(_pandas().Series(codes).duplicated(keep="first").to_numpy(), dtype=bool) & valid


def align(predictions: Table, references: Table) -> tuple[NDArray[Any], NDArray[Any], AlignReport]:
    """Join predictions to references on their ids (vectorised, never on row order).

    Returns ``(prediction_values, reference_values, report)``: the values of every
    reference row whose id has a prediction, in reference order, and the prediction of
    the same id. A duplicated prediction id uses its first row; reference ids without a
    prediction and predictions of unknown ids are left out and reported. Tables read in
    row order (no id column) are joined by row number. Ids that are numbers on one side
    and text on the other are compared as text.
    """
    import numpy as np

    pred_index, ref_index = _comparable(predictions.id_index(), references.id_index())
    n, m = len(pred_index), len(ref_index)
    empty = np.empty(0, dtype=np.int64)

    def issue(index: Any, at: NDArray[Any], first: NDArray[Any] | None = None) -> IdIssue:
        return IdIssue(at, np.asarray(index[at].to_numpy()) if len(at) else np.empty(0, dtype=object), first)

    if n == m and pred_index.equals(ref_index):  # the same ids in the same order: one pass
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
    reference_rows = np.flatnonzero(found)
    matched = match[reference_rows]

    in_references = np.zeros(size, dtype=bool)
    in_references[ref_codes[ref_valid]] = True
    known = np.zeros(n, dtype=bool)
    known[keep] = in_references[pred_codes[keep]]
    unknown_rows = np.flatnonzero(~known & ~repeated)

    duplicated_rows = np.flatnonzero(repeated)
    first_rows = position[pred_codes[duplicated_rows]]
    missing_rows = np.flatnonzero(~found)
    ref_duplicated = np.flatnonzero(_repeats(ref_codes, size))

    report = AlignReport(predictions.file, references.file, n, m, reference_rows, matched,
                         issue(pred_index, duplicated_rows, first_rows), issue(ref_index, missing_rows),
                         issue(pred_index, unknown_rows), issue(ref_index, ref_duplicated))
    if len(matched) == n and len(reference_rows) == m and bool(np.all(matched == rows)):
        prediction_values = predictions.values  # same ids in the same order: no copy
    else:
        prediction_values = predictions.values[matched]
    reference_values = references.values if len(reference_rows) == m else references.values[reference_rows]
    return prediction_values, reference_values, report
