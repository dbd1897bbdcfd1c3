"""Shared output helpers: JSON to stdout, plain tables."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click


def echo_json(data: Any) -> None:
    """Print ``data`` as indented, key-ordered JSON (the stable ``--json`` output)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextmanager
def plugin_output_held(as_json: bool) -> Iterator[None]:
    """Hold what plugins print while the block loads them (an import-time ``print()``) away from
    this command's streams, so ``--json`` stays JSON; afterwards one note on stderr says how much
    was held and, without ``--json``, shows its last lines."""
    from ..core.capture import CappedLog, LogCap, capture_fds

    held = CappedLog(None, LogCap(0, 2048))
    with capture_fds(held):
        yield
    if held.written:
        click.echo(f"note: plugins printed {held.written} bytes while loading; not shown on stdout"
                   + ("" if as_json else f"; the last of it:\n{held.tail_text(2048)}"), err=True)
