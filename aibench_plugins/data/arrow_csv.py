"""Reading a CSV/TSV file with pyarrow's CSV reader (multi-threaded, in C++), as pandas' ``pyarrow``
engine does, and in one respect more: a text column of few distinct values arrives
**dictionary-encoded**, as a pandas ``Categorical``.

pyarrow builds the dictionary while it parses (``ConvertOptions.auto_dict_encode``): the column is
never held as one Python string per row, reading is faster, and whoever groups rows by the column
(:mod:`.groups`, sensitive attributes) takes its integer codes (``.cat.codes``) instead of hashing
every string again. A column that has more than :data:`DICTIONARY_LIMIT` distinct values in a block
of the file stays plain text, as do the id column and the columns declared ``str`` (read as written,
never inferred). The values are unchanged: ``Table.values`` and ``Table.column`` give the same
NumPy arrays of strings (missing values NaN) as before.

What pandas' engine does is kept: the same strings mean a missing value (pandas' defaults: empty,
``NA``, ``NaN``, ``null``, ...), an all-empty column is ``float64`` NaN, and text is pandas' own text
dtype (``str`` in pandas 3, ``object`` before). The categories of a dictionary-encoded column are
sorted, as ``pandas.read_csv(..., dtype="category")`` sorts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .tables import import_pandas, import_pyarrow

__all__ = ["DICTIONARY_LIMIT", "read_arrow_csv"]

DICTIONARY_LIMIT = 1024
"""The most distinct values (per block of the file) of a text column read as a ``Categorical``."""

# pandas' default strings for a missing value (pandas._libs.parsers.STR_NA_VALUES)
_NA_TEXT = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
            "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def read_arrow_csv(path: Path, sep: str, columns: Sequence[str], *, text: Sequence[str] = (),
                   plain: Sequence[str] = ()) -> Any:
    """The ``columns`` of the CSV file ``path`` (delimiter ``sep``, a header line) as a DataFrame.

    :param text: columns kept as written (declared ``str``): never inferred as numbers, never
        dictionary-encoded.
    :param plain: other columns never dictionary-encoded (the id column).
    :raises ValueError: pyarrow cannot read the file (``pyarrow.ArrowInvalid`` is a ``ValueError``):
        the caller finds the line and says what is wrong.
    """
    pa = import_pyarrow()
    from pyarrow import csv as arrow_csv

    pd = import_pandas()
    convert = arrow_csv.ConvertOptions(include_columns=list(columns), null_values=list(_NA_TEXT),
                                       strings_can_be_null=True,
                                       column_types={c: pa.large_string() for c in text},
                                       auto_dict_encode=True, auto_dict_max_cardinality=DICTIONARY_LIMIT)
    table = arrow_csv.read_csv(path, parse_options=arrow_csv.ParseOptions(delimiter=sep), convert_options=convert)
    schema = table.schema
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):  # an all-empty column: NaN, as pandas reads it
            schema = schema.set(i, field.with_type(pa.float64()))
        elif pa.types.is_dictionary(field.type) and field.name in plain:
            schema = schema.set(i, field.with_type(field.type.value_type))
    if schema != table.schema:
        table = table.cast(schema)
    text_dtype = pd.Series(["a"]).dtype  # pandas' own text dtype: str (pandas 3) or object
    mapper = None
    if isinstance(text_dtype, pd.api.extensions.ExtensionDtype):
        def mapper(kind: Any) -> Any:
            return text_dtype if pa.types.is_string(kind) or pa.types.is_large_string(kind) else None
    frame = table.to_pandas(types_mapper=mapper)
    for name in frame.columns:  # categories sorted (as pandas' own dtype="category" reads them)
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories.tolist()
            order = sorted(categories, key=str)
            if order != categories:
                frame[name] = series.cat.reorder_categories(order)
    return frame

