"""Reading a table from a folder: :func:`locate` finds its file, :func:`read_table`
reads it in the format the spec declares or the extension implies.

Formats (``format=None`` takes it from the extension: ``.csv``, ``.tsv``/``.tab``,
``.json``, ``.jsonl``/``.ndjson``, ``.npy``, ``.npz``):

``csv``, ``tsv``
    A header line naming the columns, then one row per line, UTF-8 (a BOM is
    accepted). Read by pyarrow's CSV reader when pyarrow is installed, as pandas'
    pyarrow engine reads it, but with each text column of few distinct values
    dictionary-encoded (a pandas ``Categorical``, see :mod:`.arrow_csv`); by
    ``pandas.read_csv``'s C engine otherwise. Only the columns the spec names are read.
    A file without a header line (``names``, ``header=False``), with another
    delimiter (``delimiter``, ``whitespace`` for any run of spaces and tabs) or read
    with ``columns="*"`` is read by :mod:`.delimited`.
``json``
    Either a list of records, ``[{"id": "a", "label": "cat"}, ...]``, or a mapping
    id -> value: ``{"a": "cat"}`` (one column), ``{"a": [0.1, 0.9]}`` (the values of
    ``columns``, in order) or ``{"a": {"p_cat": 0.1, "p_dog": 0.9}}``.
``jsonl``
    One JSON object (a record) per line; blank lines are skipped.
``npy``
    One array in row order (the spec's ``id`` must be ``None``): shape ``(n,)`` for
    one column, ``(n, k)`` for ``k`` columns, or ``(n, h, w, ...)`` (3 or more
    dimensions, such as segmentation label maps) for exactly one column.
``npz``
    Arrays ``values`` (shape ``(n,)``, ``(n, k)``, or ``(n, h, w, ...)`` for exactly
    one declared column, as for ``npy``) and ``ids`` (shape ``(n,)``; needed unless
    ``id`` is ``None``), as ``numpy.savez(path, ids=ids, values=values)`` writes them.
    Object arrays are never read (they would need pickle). A table of arrays of 3 or
    more dimensions keeps them whole: :attr:`Table.values` is the ``(n, h, w, ...)``
    array and its ``frame`` holds only the ids (no value column).

Once read, ``missing`` and ``read_as`` (one-hot or argmax rows) are applied by
:mod:`.rows`.

Errors are :class:`~aibench_plugins.data.tables.ReadError`: they name the file, the line
when there is one, what is wrong and the fix (a missing file lists the files present;
a missing column lists the columns found, with "did you mean"; an unreadable line
gives its number).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import tables as _tables  # has_pyarrow() is looked up there at call time: tests switch pyarrow off
from .arrow_csv import read_arrow_csv
from .delimited import read_delimited
from .rows import apply_row_rules
from .tables import (
    MIB,
    SEPARATORS,
    CsvLines,
    Lines,
    ListedLines,
    ReadError,
    Table,
    TableSpec,
    apply_dtypes,
    import_pandas,
    require_columns,
    short,
    suggest,
)
from .views import real_folder

__all__ = ["EXTENSIONS", "format_of", "locate", "read_table"]

EXTENSIONS: Mapping[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".npy": "npy", ".npz": "npz",
}
_LISTED = 10  # files or columns named in a message


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
    # A link is followed only within the submission; in a view (.views) that is the real folder.
    if not path.resolve().is_relative_to(real_folder(folder).resolve()):
        raise ReadError("is a link to a file outside the folder; it is not read", file=name,
                        fix="put the file itself in the submission, not a symbolic link", kind="unreadable")
    return path, name


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
            raise ReadError(f"file is {size / MIB:.1f} MiB, over the {max_bytes / MIB:g} MiB read limit; "
                            "it was not read", file=name, kind="too_large", size=size,
                            fix=f"make it smaller than {max_bytes / MIB:g} MiB (fewer decimal digits, "
                                "only the needed columns)")
    if fmt not in SEPARATORS and not spec.plain_text:
        raise ReadError(f"is read as {fmt.upper()}, but the table declares options of CSV and TSV files "
                        f"({_text_options(spec)})", file=name, kind="invalid",
                        fix="declare \"format\": \"csv\" (or \"tsv\") for a delimited text file, or remove those "
                            "options")
    if fmt in SEPARATORS and not spec.plain_text:
        table = read_delimited(path, name, fmt, spec)
    elif fmt in SEPARATORS:
        table = _read_csv(path, name, fmt, spec)
    elif fmt == "json":
        table = _read_json(path, name, spec)
    elif fmt == "jsonl":
        table = _read_jsonl(path, name, spec)
    else:
        table = _read_numpy(path, name, fmt, spec)
    if convert:
        apply_dtypes(table, spec)
        apply_row_rules(table, spec)
    return table


def _text_options(spec: TableSpec) -> str:
    options = [("names", spec.names is not None), ("header", not spec.header and spec.names is None),
               ("delimiter", spec.delimiter is not None), ('columns "*"', spec.every_column)]
    return ", ".join(name for name, given in options if given)


# -- columns, CSV and TSV ----------------------------------------------------------------------


_require_columns = require_columns  # the message of a missing column, shared with the other readers


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


def _sep_name(sep: str) -> str:
    return {",": "commas", "\t": "tabs"}.get(sep, repr(sep))


def _read_csv(path: Path, name: str, fmt: str, spec: TableSpec) -> Table:
    pd = import_pandas()
    sep = SEPARATORS[fmt]
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
    engines = ["pyarrow", "c"] if _tables.has_pyarrow() else ["c"]
    frame = None
    error: Exception | None = None
    for engine in engines:
        try:
            if engine == "pyarrow":  # text columns of few values arrive dictionary-encoded (.arrow_csv)
                frame = read_arrow_csv(path, sep, usecols, text=list(dtype), plain=[spec.id] if spec.id else [])
            else:  # the C engine does not notice a line with extra fields when given usecols
                frame = pd.read_csv(path, sep=sep, dtype=dtype or None, engine=engine)
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
                 header=header, lines=CsvLines(path, sep, len(frame)))


def _has_bytes(frame: Any) -> bool:
    pd = import_pandas()
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):  # dictionary-encoded: look at its values
            series = pd.Series(series.cat.categories.to_numpy(dtype=object), dtype=object)
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


# -- JSON and JSONL ----------------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


class _TooLarge(Exception):
    """An integer of a JSON file that does not fit the 64-bit integers ids and values are read into."""

    def __init__(self, digits: str) -> None:
        self.digits = digits
        super().__init__(digits)

    def read_error(self, name: str, line: int) -> ReadError:
        shown = self.digits if len(self.digits) <= 30 else f"{self.digits[:12]}...{self.digits[-6:]}"
        return ReadError(f"line {line}: the integer {shown} ({len(self.digits.lstrip('-'))} digits) does not fit "
                         "a 64-bit integer", file=name, line=line, kind="unreadable",
                         fix='write such an id as a string ("id": "123...") and such a value as a float')


def _int64(digits: str) -> int:
    """``json`` ``parse_int``: an integer within 64 bits, else :class:`_TooLarge` (also before Python's
    4,300-digit conversion limit is reached)."""
    if len(digits) > 20:
        raise _TooLarge(digits)
    value = int(digits)
    if not -(2**63) <= value < 2**63:
        raise _TooLarge(digits)
    return value


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
        return json.loads(text, parse_int=_int64)
    except _TooLarge as error:
        raise error.read_error(name, text.count("\n", 0, max(text.find(error.digits), 0)) + 1) from None
    except RecursionError:
        raise ReadError("nests arrays or objects deeper than Python can read", file=name, kind="unreadable",
                        fix="write a flat list of records or an object mapping ids to values") from None
    except json.JSONDecodeError as error:
        raise ReadError(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", file=name,
                        line=error.lineno, kind="unreadable",
                        fix="write valid JSON (a list of records or an object mapping ids to values)") from None


def _read_json(path: Path, name: str, spec: TableSpec) -> Table:
    pd = import_pandas()
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
                     header=header, lines=Lines())
    if isinstance(data, dict):
        return _from_mapping(data, path, name, spec)
    raise ReadError(f"holds {_json_kind(data)}; expected a list of records or an object mapping ids to values",
                    file=name, kind="unreadable", fix='write [{"id": "a", "label": "cat"}, ...] or {"a": "cat", ...}')


def _from_mapping(data: dict[str, Any], path: Path, name: str, spec: TableSpec) -> Table:
    pd = import_pandas()
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
                 columns=spec.columns, id_column=spec.id, header=header, lines=Lines())


def _read_jsonl(path: Path, name: str, spec: TableSpec) -> Table:
    pd = import_pandas()
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                record = json.loads(raw, parse_int=_int64)
            except _TooLarge as error:
                raise error.read_error(name, number) from None
            except RecursionError:
                raise ReadError(f"line {number} nests arrays or objects deeper than Python can read", file=name,
                                line=number, kind="unreadable",
                                fix='write one flat JSON object per line, such as {"id": "a", "label": "cat"}') from None
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
                 header=header, lines=ListedLines(lines))


# -- NumPy -------------------------------------------------------------------------------------


def _read_numpy(path: Path, name: str, fmt: str, spec: TableSpec) -> Table:
    import numpy as np

    pd = import_pandas()
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
    if values.ndim >= 3:
        if width != 1:
            raise ReadError(f"values have shape {values.shape}: an array of {values.ndim} dimensions (one "
                            f"{'x'.join(str(d) for d in values.shape[1:])} array per row) is read as one column, "
                            f"but {width or 'no'} columns are declared ({', '.join(spec.columns) or 'none'})",
                            file=name, kind="invalid",
                            fix='declare exactly one column, such as columns: ["mask"], or save an array of shape '
                                + ("(n,)" if width <= 1 else f"(n, {width})"))
        frame = pd.DataFrame({spec.id: ids} if ids is not None and spec.id is not None else {},
                             index=pd.RangeIndex(len(values)), copy=False)
        return Table(file=name, path=path, format=fmt, frame=frame, columns=spec.columns, id_column=spec.id,
                     header=header, lines=Lines(), array=values)
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
                 header=header, lines=Lines())
