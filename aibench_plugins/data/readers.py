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

This module is the import path; the code lives in three modules, one concept each:
:mod:`._tables` (what a table is: :class:`TableSpec`, :class:`Table`,
:class:`ReadError`, column types and line numbers), :mod:`._formats` (finding and
reading the file: :func:`locate`, :func:`read_table`, the supported formats) and
:mod:`._align` (joining on ids: :func:`align`, :class:`AlignReport`, :class:`IdIssue`).
"""

from __future__ import annotations

from .align import AlignReport, IdIssue, align
from .formats import EXTENSIONS, format_of, locate, read_table
from .tables import (
    DTYPES,
    FORMATS,
    DType,
    Format,
    ReadError,
    Table,
    TableSpec,
    example_of,
    id_text,
    short,
    suggest,
    type_errors,
)

__all__ = [
    "DTYPES",
    "EXTENSIONS",
    "FORMATS",
    "AlignReport",
    "DType",
    "Format",
    "IdIssue",
    "ReadError",
    "Table",
    "TableSpec",
    "align",
    "example_of",
    "format_of",
    "id_text",
    "locate",
    "read_table",
    "short",
    "suggest",
    "type_errors",
]
