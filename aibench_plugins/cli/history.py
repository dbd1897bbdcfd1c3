"""``aibench history``: the runs recorded in the run ledger."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import click

from ._output import echo_json, table

if TYPE_CHECKING:
    from ..run.ledger import RunRecord, RunStatus

HISTORY_VERSION = 1
_STATUSES = ("running", "finished", "failed", "interrupted")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Show at most N runs, newest first; 0 shows all.", metavar="N")
@click.option("--status", type=click.Choice(_STATUSES), help="Only runs with this status.")
@click.option("--ledger", "ledger_path", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Read this ledger file instead of $AIBENCH_HOME/ledger.sqlite3.")
def history(as_json: bool, limit: int, status: str | None, ledger_path: str | None) -> None:
    """List the runs recorded by `aibench run`, newest first.

    A run whose process was killed or crashed shows as interrupted, with everything it
    had recorded. EXECUTOR is local, or docker@ and the ID of the image the run was pinned to. PYTHON is the
    version of the interpreter that ran the programs, with numpy (np), pandas (pd), scikit-learn (skl) and
    PyYAML (yaml); --json has each program's, with the interpreter's path. Scores are the leaderboard row,
    compacted; --json has them in full.

    \b
    Example:
      aibench history --limit 5
      aibench history --status failed --json | jq -r '.runs[].message'
    """
    from ..run.ledger import LedgerError

    try:
        records, location = _read(ledger_path, limit, status)
    except LedgerError as error:  # damaged, newer, unreadable: said, never a traceback
        if as_json:
            echo_json({"history_version": HISTORY_VERSION, "status": "error", "reason": error.reason,
                       "message": str(error)})
            raise SystemExit(1) from None
        raise click.ClickException(str(error)) from None
    if as_json:
        echo_json({"history_version": HISTORY_VERSION, "runs": [r.to_json() for r in records]})
    elif not records:
        click.echo(f"No runs recorded{f' with status {status}' if status else ''} in {location}.", err=True)
    else:
        click.echo(table(("ID", "STARTED (UTC)", "PLATFORM", "EXECUTOR", "PYTHON", "PHASE", "STATUS", "SCORES",
                          "BUNDLE"),
                         [_row(r) for r in records]))


def _read(ledger_path: str | None, limit: int, status: str | None) -> tuple[list[RunRecord], Any]:
    """The runs, from the ledger opened for writing (interrupted runs marked) or, when it cannot
    be written now (a full disk, a lock, a read-only file system), read-only with a warning."""
    from ..run.ledger import Ledger, LedgerError

    try:
        ledger = Ledger.open(ledger_path)
        error = ledger.write_error
    except LedgerError as failure:
        if not failure.writable_later:
            raise
        ledger, error = Ledger.open(ledger_path, read_only=True), failure
    if error is not None:
        click.echo(f"warning: {error}\nwarning: showing the ledger read-only: runs whose process ended read as "
                   "interrupted, but are not marked so in the file until it can be written.", err=True)
    with ledger:
        return ledger.runs(limit=limit or None, status=cast("RunStatus | None", status)), ledger.path


def _row(record: RunRecord) -> tuple[str, ...]:
    started = record.started_at[:19].replace("T", " ")
    phase = " ".join(str(p) for p in (record.phase_number, record.phase_name) if p is not None)
    executor = record.executor or "-"
    if record.image_id:  # the image it was pinned to, as docker shows image IDs
        executor += "@" + record.image_id.removeprefix("sha256:")[:12]
    return (record.id[:8], started, record.platform or "-", executor, compact_interpreters(record.interpreters),
            phase or "-", record.status, compact_scores(record.scores), _short_path(record.bundle_path))


def compact_interpreters(interpreters: Mapping[str, Mapping[str, Any]]) -> str:
    """The Python version and numpy, pandas, scikit-learn, PyYAML versions that ran the programs,
    each different set once (``3.11.2 np1.24.2 pd1.5.3 skl1.2.1 yaml6.0``); ``-`` when none was recorded."""
    short = {"numpy": "np", "pandas": "pd", "scikit-learn": "skl", "PyYAML": "yaml"}
    seen: list[str] = []
    for info in interpreters.values():
        if not info.get("python"):
            continue
        packages = info.get("packages") or {}
        text = (str(info.get("version")) + "".join(f" {short[d]}{packages.get(d) or '-'}" for d in short)
                if info.get("version") else "?")
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "-"


def compact_scores(scores: Mapping[str, Any] | None, width: int = 40) -> str:
    """``key=value`` pairs of a leaderboard row, numbers to 4 significant digits, cut to ``width``."""
    if not scores:
        return "-"
    text = " ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                    for key, value in scores.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def _short_path(path: str) -> str:
    """``path`` relative to the current folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative
