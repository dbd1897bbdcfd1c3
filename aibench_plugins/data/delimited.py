"""Reading CSV and TSV files that are not plain: a file without a header line (its fields
named by ``names``, or by position ``"1"``, ``"2"``, ...), another field delimiter
(``;``, ``|``, one space) or ``whitespace`` (any run of spaces and tabs, as in the
whitespace-separated matrices scorers read with ``numpy.loadtxt``), and ``columns: "*"``
(every field but the id).

A plain file (a header line, the format's delimiter) is read by
:func:`aibench_plugins.data.formats.read_table`'s fast path; this module reads the others
with pandas' C engine (pyarrow has no whitespace delimiter) and checks what the C engine
does not: every line has the fields of the first one (a short line would be filled with
NaN silently). A whitespace-separated file has no quoting: a field is what ``str.split``
gives. Errors name the line, the fields found and expected, and the fix.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator
from pathlib import Path

from .tables import DELIMITERS, SEPARATORS, CsvLines, ReadError, Table, TableSpec, import_pandas, require_columns

__all__ = ["delimiter_name", "read_delimited"]

_FIRST_LINE_LIMIT = 1 << 20


def delimiter_name(delimiter: str) -> str:
    """How a message names a delimiter ("commas", "spaces or tabs")."""
    return DELIMITERS.get(delimiter, repr(delimiter))


def _fields(text: str, delimiter: str) -> list[str]:
    if delimiter == "whitespace":
        return text.split()
    return next(csv.reader([text], delimiter=delimiter), [])


def _first_line(path: Path, name: str, delimiter: str) -> tuple[int, list[str]]:
    """The 1-based number and the fields of the first line (the header, or the first row
    of a file without one); blank lines before it are skipped only in a file without a
    header (pandas skips them too)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(_FIRST_LINE_LIMIT), b""), 1):
            if not raw.endswith(b"\n") and len(raw) >= _FIRST_LINE_LIMIT:
                raise ReadError(f"line {number} is longer than 1 MiB", file=name, line=number, kind="unreadable",
                                fix=f"write one row per line, its fields separated by {delimiter_name(delimiter)}")
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise ReadError(f"line {number} is not valid UTF-8 (byte {error.start + 1})", file=name,
                                line=number, kind="unreadable", fix="save the file as UTF-8") from None
            if text.strip():
                try:
                    return number, _fields(text, delimiter)
                except csv.Error as error:
                    raise ReadError(f"line {number} cannot be parsed: {error}", file=name, line=number,
                                    kind="unreadable", fix="quote values that contain a quote or a delimiter") \
                        from None
    raise ReadError("file is empty", file=name, kind="unreadable",
                    fix=f"write one row per line, its fields separated by {delimiter_name(delimiter)}")


def _field_names(spec: TableSpec, first: int, fields: list[str], name: str, delimiter: str) -> list[str]:
    """The names of the file's fields: its header line, ``names``, or their positions."""
    if spec.header:
        if first != 1:
            raise ReadError("line 1 is empty; it must be a header line naming the columns", file=name, line=1,
                            kind="unreadable", fix=f"write the column names on line 1, separated by "
                                                   f"{delimiter_name(delimiter)}, or declare names for a file "
                                                   "without a header line")
        return fields
    if spec.names is None:
        return [str(position) for position in range(1, len(fields) + 1)]
    names = list(spec.names)
    if len(fields) != len(names):
        hint = _other_delimiter(fields, delimiter) if len(fields) == 1 else ""
        raise ReadError(f"line {first} has {len(fields)} field{'s' if len(fields) != 1 else ''} separated by "
                        f"{delimiter_name(delimiter)}, but {len(names)} are declared ({', '.join(names)})",
                        file=name, line=first, kind="invalid",
                        fix=hint or f"write {len(names)} fields on every line ({', '.join(names)}), separated by "
                                    f"{delimiter_name(delimiter)}")
    return names


def _other_delimiter(fields: list[str], delimiter: str) -> str:
    for other in (",", "\t", ";", "|", " "):
        if other != delimiter and other in fields[0]:
            return f"separate the fields by {delimiter_name(delimiter)}, not {delimiter_name(other)}"
    return ""


def _strict_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """``(number, text)`` of each line; text ``None`` for a line that is not UTF-8."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield number, None


def _first_bad_line(path: Path, delimiter: str, width: int, what: str) -> tuple[int, str] | None:
    """The first line whose field count is not ``width`` (``what`` says where ``width`` comes
    from), or that is not UTF-8."""
    if delimiter != "whitespace":
        reader = csv.reader((t or "" for _, t in _strict_lines(path)), delimiter=delimiter, strict=True)
        try:
            for record in reader:
                if record and len(record) != width:
                    return reader.line_num, f"has {len(record)} fields, {what} {width}"
        except csv.Error as error:
            return reader.line_num, f"cannot be parsed: {error}"
    for number, text in _strict_lines(path):
        if text is None:
            return number, "is not valid UTF-8"
        count = len(text.split()) if delimiter == "whitespace" else None
        if count and count != width:
            return number, f"has {count} fields, {what} {width}"
    return None


def read_delimited(path: Path, name: str, fmt: str, spec: TableSpec) -> Table:
    """Read a CSV or TSV file the way ``spec`` declares (``names``, ``header``, ``delimiter``,
    ``columns: "*"``). The table's ``columns`` are the resolved value columns.

    :raises ReadError: a line with another number of fields than the first (its number,
        both counts), a line that is not UTF-8, a missing column (the columns found).
    """
    pd = import_pandas()
    delimiter = spec.delimiter or SEPARATORS[fmt]
    first, fields = _first_line(path, name, delimiter)
    header = _field_names(spec, first, fields, name, delimiter)
    if spec.every_column:
        values = [c for c in header if c != spec.id]
        if len(values) < (2 if spec.read_as else 1):
            raise ReadError(f"line {first} has {len(header)} field{'s' if len(header) != 1 else ''}: "
                            f"{len(values) or 'no'} value column{'s' if len(values) != 1 else ''} besides the id, "
                            + (f"and a {spec.read_as} row needs two or more" if spec.read_as else "and one is needed"),
                            file=name, line=first, kind="invalid",
                            fix=f"write one field per class on every line, separated by {delimiter_name(delimiter)}")
    spec = spec.resolved(header)
    hint = ""
    if spec.header and len(header) == 1 and len(spec.needed) > 1:
        other = _other_delimiter(header, delimiter)
        hint = f"; the header has one column {header[0]!r}: {other}" if other else ""
    require_columns(spec.needed, header, name, line=1 if spec.header else None, hint=hint)
    for column in spec.needed:
        if header.count(column) > 1:
            raise ReadError(f"column {column!r} appears {header.count(column)} times in the header", file=name,
                            line=1, fix=f"keep one column named {column!r}", kind="invalid")
    what = "the header has" if spec.header else f"line {first} has"
    fix = (f"give every line the {len(header)} fields of line {first}, separated by {delimiter_name(delimiter)}"
           + (f"; quote values that contain {delimiter_name(delimiter)}" if delimiter != "whitespace" else ""))
    dtype = {c: str for c in spec.needed if spec.dtypes.get(c) == "str"}
    whitespace = delimiter == "whitespace"
    try:
        with warnings.catch_warnings():  # fields pandas would drop (a quoted newline on line 1): an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=r"\s+" if whitespace else delimiter, header=0 if spec.header else None,
                                names=None if spec.header else header, index_col=False, dtype=dtype or None,
                                engine="c", quoting=csv.QUOTE_NONE if whitespace else csv.QUOTE_MINIMAL)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.ParserWarning) as error:
        found = _first_bad_line(path, delimiter, len(header), what)
        if found is not None:
            raise ReadError(f"line {found[0]} {found[1]}", file=name, line=found[0], kind="unreadable",
                            fix=fix) from None
        raise ReadError(f"cannot be read as {fmt.upper()}: {error}", file=name, kind="unreadable", fix=fix) from None
    if len(frame.columns) and bool(frame.iloc[:, -1].isna().any()):  # a short line, or empty last cells
        found = _first_bad_line(path, delimiter, len(header), what)
        if found is not None:
            raise ReadError(f"line {found[0]} {found[1]}", file=name, line=found[0], kind="unreadable", fix=fix)
    frame = frame[spec.needed] if spec.needed else frame.iloc[:, :0]
    return Table(file=name, path=path, format=fmt, frame=frame, columns=spec.columns, id_column=spec.id,
                 header=header, lines=CsvLines(path, delimiter, len(frame), header=spec.header))

