"""The gateway's tables: the hidden test inputs it reads (:func:`read_inputs`) and the predictions
it writes where the scoring program expects a result submission's (:func:`write_predictions`).

Both are CSV (comma separated, a header line, UTF-8). An input column whose every value is a
number is sent as numbers (``float``), any other as strings; the id column is kept on the host and
never sent.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import DataError, InvalidValueError, ReadError
from .types import InputTable, TableColumns

__all__ = ["PREDICTION_COLUMN", "prediction_columns", "read_inputs", "write_predictions"]

#: the prediction column's name when the organiser's ``predictions`` names none
PREDICTION_COLUMN = "prediction"

_ORGANISER = "Organiser: fix the phase's input data (the participant is not at fault)."


def prediction_columns(spec: TableColumns) -> tuple[str, ...]:
    """The value columns of a predictions table: ``spec.columns``, or ``("prediction",)``."""
    return spec.columns or (PREDICTION_COLUMN,)


def read_inputs(folder: Path | None, spec: TableColumns) -> InputTable:
    """The table ``spec.file`` in ``folder``: its ids (``spec.id``) and the ``spec.columns`` (empty:
    every column but the id), in that order, one row per line.

    :raises DataError: ``folder`` is ``None`` (the phase has no input data).
    :raises ReadError: the file is missing or unreadable, a column is missing, a line has another
        number of fields than the header, an id is empty or repeated, or a numeric column holds an
        empty cell or a value JSON cannot carry (NaN, infinity); with the file, the line and the fix.
    """
    if folder is None:
        raise DataError("the phase has no input data, so the gateway has nothing to send to the model. Organiser: "
                        f"give the phase input data holding {spec.file}.")
    path = Path(folder) / spec.file
    name = spec.file
    if not path.is_file():
        present = sorted(p.name for p in Path(folder).iterdir())[:10] if Path(folder).is_dir() else []
        raise ReadError(f"the inputs file {name} is not in the phase's input data (found: "
                        f"{', '.join(present) or 'nothing'}).", file=name, kind="missing_file",
                        fix="name the file the input data holds in the manifest's submissions.inputs.file. "
                            + _ORGANISER)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise ReadError("the file is empty; expected a header line.", file=name, line=1, kind="unreadable",
                                fix=_ORGANISER)
            header = [h.strip() for h in header]
            wanted = list(spec.columns) or [h for h in header if h != spec.id]
            missing = [c for c in [spec.id, *wanted] if c not in header]
            if missing:
                raise ReadError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                                f"(found {', '.join(map(repr, header))}).", file=name, line=1,
                                kind="missing_column", missing_columns=missing, found_columns=header,
                                fix="name the table's columns in the manifest's submissions.inputs. " + _ORGANISER)
            if len(set(header)) != len(header):
                repeated = sorted({h for h in header if header.count(h) > 1})
                raise ReadError(f"the header repeats {', '.join(map(repr, repeated))}.", file=name, line=1,
                                fix=_ORGANISER)
            id_at = header.index(spec.id)
            at = [header.index(c) for c in wanted]
            ids: list[str] = []
            cells: list[list[str]] = []
            lines: list[int] = []
            seen: set[str] = set()
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise ReadError(f"the line has {len(fields)} fields; the header has {len(header)}.", file=name,
                                    line=reader.line_num, kind="unreadable", fix=_ORGANISER)
                item = fields[id_at].strip()
                if not item:
                    raise ReadError(f"the id column {spec.id!r} is empty.", file=name, line=reader.line_num,
                                    fix=_ORGANISER)
                if item in seen:
                    raise ReadError(f"the id {item!r} appears twice.", file=name, line=reader.line_num, item=item,
                                    fix=_ORGANISER)
                seen.add(item)
                ids.append(item)
                cells.append([fields[i] for i in at])
                lines.append(reader.line_num)
    except csv.Error as error:
        raise ReadError(f"the file is not CSV ({error}).", file=name, kind="unreadable", fix=_ORGANISER) from None
    except UnicodeDecodeError as error:
        raise ReadError(f"the file is not UTF-8 text (byte {error.start}).", file=name, kind="unreadable",
                        fix=_ORGANISER) from None
    except OSError as error:
        raise ReadError(f"the file cannot be read ({error.strerror or error}).", file=name, kind="unreadable",
                        fix=_ORGANISER) from None
    columns = [_column(name, column, [row[j] for row in cells], lines, ids) for j, column in enumerate(wanted)]
    rows = [list(values) for values in zip(*columns)] if columns else [[] for _ in ids]
    return InputTable(ids=tuple(ids), columns=tuple(wanted), rows=rows)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _column(name: str, column: str, texts: list[str], lines: list[int], ids: list[str]) -> list[Any]:
    numbers = [_number(t) if t.strip() else None for t in texts]
    if any(n is None and t.strip() for n, t in zip(numbers, texts)):
        return texts  # a text column: sent as strings
    for i, value in enumerate(numbers):
        if value is None:
            raise ReadError(f"the numeric column {column!r} has an empty cell, which the gateway cannot send.",
                            file=name, line=lines[i], item=ids[i], kind="invalid", fix=_ORGANISER)
        if not math.isfinite(value):
            raise ReadError(f"the numeric column {column!r} holds {texts[i].strip()!r}, which JSON cannot carry.",
                            file=name, line=lines[i], item=ids[i], kind="invalid", fix=_ORGANISER)
    return numbers


def write_predictions(folder: Path, spec: TableColumns, ids: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write ``spec.file`` in ``folder``: the id column ``spec.id`` then :func:`prediction_columns`,
    one line per id (``rows[i]`` holds the values of ``ids[i]``). Returns the file's path.

    :raises InvalidValueError: ``rows`` and ``ids`` differ in length, or a row has another number of
        values than there are columns (a bug of the caller: the gateway checks every batch).
    """
    columns = prediction_columns(spec)
    if len(rows) != len(ids):
        raise InvalidValueError(f"write_predictions got {len(rows)} rows for {len(ids)} ids; expected one row per id")
    path = Path(folder) / spec.file
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([spec.id, *columns])
        for item, row in zip(ids, rows):
            if len(row) != len(columns):
                raise InvalidValueError(f"write_predictions got {len(row)} values for id {item!r}; expected "
                                        f"{len(columns)} ({', '.join(columns)})")
            writer.writerow([item, *(_cell(v) for v in row)])
    return path


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
