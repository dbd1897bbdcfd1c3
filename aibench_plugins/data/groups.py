"""Groups of rows by sensitive attributes: which group each of a metric's aligned rows is in.

The attributes are columns of a table of the hidden reference data (the ``references`` table, or
a separate table declared under ``data`` with ``"from": "reference"``), joined on ids to the
metric's aligned ids (never on row order). :func:`group_rows` gives one :class:`Grouping` per
attribute and, when asked, one more for the intersection of all of them (every combination of
values that some row has). Each grouping holds one integer code per row, computed once, and the
size of each group; the values are strings (``1`` and ``"1"`` are one group). An attribute column
read dictionary-encoded (a pandas ``Categorical``: a CSV/TSV text column of few values read with
pyarrow, :mod:`.arrow_csv`) gives its codes as they are; any other is coded by ``pandas.factorize``.
When the table's ids are the metric's aligned ids in order (the references table itself) the join
is one comparison of the two id arrays.

Nothing here puts a per-row sensitive value in a message: errors name the table, the column and
how many rows are concerned (and at most a few *ids*, which say nothing of the attributes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ReadError
from .tables import Table, id_text, import_pandas

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Grouping", "group_rows", "join_rows"]

_ORGANISER = "the organiser's to fix"


@dataclass(frozen=True)
class Grouping:
    """The rows of one metric split into groups by ``attributes`` (one attribute, or several for
    an intersection).

    ``codes[i]`` is the group of aligned row ``i`` (``0 <= code < len(values)``); ``values[c]``
    is group ``c``'s value of each attribute, as strings; ``sizes[c]`` its number of rows. Groups
    are sorted by their values.
    """

    attributes: tuple[str, ...]
    codes: NDArray[Any]
    values: tuple[tuple[str, ...], ...]
    sizes: NDArray[Any]

    @property
    def name(self) -> str:
        """The attributes joined by ``" x "`` (``sex x age_band``)."""
        return " x ".join(self.attributes)

    def __len__(self) -> int:
        return len(self.values)

    def group(self, code: int) -> dict[str, str]:
        """Group ``code`` as attribute -> value (what :class:`GroupStat.group` holds)."""
        return dict(zip(self.attributes, self.values[code]))

    def label(self, code: int) -> str:
        """Group ``code`` as text: ``F`` for one attribute, ``F, 30-49`` for an intersection."""
        return ", ".join(self.values[code])

    def rows(self, code: int) -> NDArray[Any]:
        """The aligned rows of group ``code``, in order."""
        import numpy as np

        return np.flatnonzero(self.codes == code)


def join_rows(table: Table, ids: Any, *, table_name: str) -> NDArray[Any] | None:
    """The row of ``table`` holding each of ``ids`` (the metric's aligned ids); ``None`` when the
    table's ids are ``ids`` in order (row ``i`` is id ``i``: the usual case of the references).

    :raises ReadError: an id of ``ids`` is not in the table (the organiser's error: the table must
        describe every row that is scored), or the table repeats an id.
    """
    import numpy as np

    pd = import_pandas()
    wanted = np.asarray(ids)
    index = table.id_index()
    if len(index) == len(wanted) and _same_ids(table, wanted):
        return None
    if not index.is_unique:
        repeated = index[index.duplicated()]
        raise ReadError(f"the {table_name} table repeats {len(repeated)} id(s) (first: "
                        f"{', '.join(repr(id_text(v)) for v in repeated[:3])}): each id needs exactly one row of "
                        f"sensitive attributes", file=table.file, kind="invalid",
                        fix=f"give each id one row in {table.file}; {_ORGANISER}")
    if index.dtype.kind in "iu" and wanted.dtype.kind not in "iu":  # integer ids on one side: compare text
        index = pd.Index(index.astype(str))
        wanted = wanted.astype(str)
    elif wanted.dtype.kind in "iu" and index.dtype.kind not in "iu":
        wanted = wanted.astype(str)
    at = np.asarray(index.get_indexer(wanted))
    missing = np.flatnonzero(at < 0)
    if len(missing):
        first = ", ".join(repr(id_text(v)) for v in wanted[missing[:3]].tolist())
        raise ReadError(f"{len(missing)} of the {len(wanted)} scored ids have no row in the {table_name} table "
                        f"(first: {first}): the sensitive attributes of every scored row are needed",
                        file=table.file, kind="invalid",
                        fix=f"add a row for every id of the references to {table.file}; {_ORGANISER}")
    return at


def _same_ids(table: Table, wanted: NDArray[Any]) -> bool:
    """Whether the table's ids are ``wanted``, in order (the usual case: the references table)."""
    import numpy as np

    have = table.ids
    if have.dtype.kind != wanted.dtype.kind and not (have.dtype.kind in "iu" and wanted.dtype.kind in "iu"):
        return False
    try:
        return bool(np.array_equal(have, wanted))
    except TypeError:
        return False


def _codes_of(table: Table, column: str, rows: NDArray[Any] | None,
              table_name: str) -> tuple[NDArray[Any], list[str], NDArray[Any]]:
    """(code per aligned row, the sorted distinct values as strings, the size of each group) of
    one attribute. A column read dictionary-encoded (a ``Categorical``) gives its codes as they
    are (no string is hashed again); any other is coded by ``pandas.factorize``."""
    import numpy as np

    pd = import_pandas()
    if column not in table.frame.columns or column == table.id_column:
        found = [str(c) for c in table.frame.columns if c != table.id_column]
        in_file = column in (table.header or ()) and column != table.id_column
        what = (f"is a column of {table.file} but not one the {table_name} table declares" if in_file else
                f"is not a column of the {table_name} table")
        raise ReadError(f"the sensitive attribute {column!r} {what} (it has {', '.join(found) or 'no value column'})",
                        file=table.file, kind="missing_column", missing_columns=[column], found_columns=found,
                        fix=(f"add {column!r} to the columns of the {table_name} table in aibench.json" if in_file else
                             f"name a column of {table.file} in the fairness entry's params.attributes") +
                            f"; {_ORGANISER}")
    series = table.frame[column]
    if rows is not None:
        series = series.iloc[rows]
    if isinstance(series.dtype, pd.CategoricalDtype):  # dictionary-encoded when read (.arrow_csv)
        codes = np.asarray(series.cat.codes.to_numpy())
        _refuse_missing(int(np.count_nonzero(codes < 0)), column, table, table_name)
        return _from_categories(codes, series.cat.categories.to_numpy(dtype=object).tolist())
    _refuse_missing(int(series.isna().sum()), column, table, table_name)
    codes, uniques = pd.factorize(series, sort=False)
    return _from_categories(np.asarray(codes), np.asarray(uniques, dtype=object).tolist())


def _refuse_missing(missing: int, column: str, table: Table, table_name: str) -> None:
    if missing:
        raise ReadError(f"the sensitive attribute {column!r} is empty for {missing} scored row(s) of the "
                        f"{table_name} table", file=table.file, kind="invalid",
                        fix=f"give every row a value of {column!r} (for instance 'unknown'); {_ORGANISER}")


def _from_categories(codes: NDArray[Any], categories: list[Any]) -> tuple[NDArray[Any], list[str], NDArray[Any]]:
    """(group code per row, the sorted distinct values as strings, the size of each group) from
    codes into ``categories``: one pass to renumber the codes by sorted value (``1`` and ``"1"``
    are one value) and one to count; values no row has (a category of unscored rows) are left out."""
    import numpy as np

    text = [id_text(v) for v in categories]
    names = sorted(set(text))
    if text == names:  # sorted already (the categories of a column read dictionary-encoded)
        renumbered = np.asarray(codes, dtype=np.intp)
    else:
        position = {name: i for i, name in enumerate(names)}
        remap = np.asarray([position[t] for t in text], dtype=np.intp)
        renumbered = remap.take(codes) if len(codes) else np.zeros(0, dtype=np.intp)
    sizes = np.bincount(renumbered, minlength=len(names))
    if sizes.all():
        return renumbered, names, sizes
    present = np.flatnonzero(sizes)
    again = np.full(len(names), -1, dtype=np.intp)
    again[present] = np.arange(len(present))
    return again.take(renumbered), [names[i] for i in present.tolist()], sizes[present]


def group_rows(table: Table, ids: Any, attributes: Sequence[str], *, intersections: bool = False,
               table_name: str = "references") -> list[Grouping]:
    """One :class:`Grouping` per attribute of ``table`` for the rows ``ids`` (in that order), and
    with ``intersections`` one more over all the attributes together (two or more of them): its
    groups are the combinations of values that some row has.

    :raises ReadError: an attribute is not a column of the table, a scored id has no row there, or
        a scored row has no value; every message names the table's file and says the organiser fixes it.
    """
    import numpy as np

    rows = join_rows(table, ids, table_name=table_name)
    groupings: list[Grouping] = []
    for column in attributes:
        codes, names, sizes = _codes_of(table, column, rows, table_name)
        groupings.append(Grouping((column,), codes, tuple((n,) for n in names), sizes))
    if intersections and len(groupings) > 1:
        groupings.append(_intersection(groupings))
    return groupings


def _intersection(groupings: Sequence[Grouping]) -> Grouping:
    """The groups of every combination of values present, sorted by value, codes renumbered."""
    import numpy as np

    combined = np.zeros(len(groupings[0].codes), dtype=np.int64)
    for each in groupings:
        combined *= len(each)
        combined += each.codes
    full = int(np.prod([len(g) for g in groupings]))
    counts = np.bincount(combined, minlength=full)
    present = np.flatnonzero(counts)
    renumber = np.full(full, -1, dtype=np.intp)
    renumber[present] = np.arange(len(present))
    values = []
    for code in present.tolist():
        parts = []
        for each in reversed(groupings):
            code, at = divmod(code, len(each))
            parts.append(each.values[at][0])
        values.append(tuple(reversed(parts)))
    return Grouping(tuple(a for g in groupings for a in g.attributes), renumber[combined], tuple(values),
                    counts[present])
