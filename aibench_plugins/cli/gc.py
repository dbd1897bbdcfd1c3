"""``aibench gc``: remove old run folders beyond a budget, keeping every record."""

from __future__ import annotations

from typing import Any

import click

from ._output import echo_json, table


class _Size(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        from ..run.gc import parse_size

        if value is None or isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _age(text: str) -> float | None:
    """``30``, ``30d``, ``12h`` or ``off``, in days."""
    cleaned = text.strip().lower()
    if cleaned in ("off", "none"):
        return None
    unit = 1 / 24 if cleaned.endswith("h") else 1.0
    try:
        value = float(cleaned.rstrip("dh"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an age: write e.g. 30 or 30d (days), 12h (hours) or off") from None
    if value < 0:
        raise click.BadParameter(f"{text!r}: an age cannot be negative")
    return value * unit


@click.command()
@click.option("--max-size", type=_Size(), default="10G", show_default=True,
              help="Keep at most this much of run folders in all, newest first (10G, 500M, off).")
@click.option("--max-age", default="30d", show_default=True, metavar="AGE",
              help="Remove folders of runs started longer ago than this (30d, 12h, off).")
@click.option("--keep", "keep_last", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
              help="Always keep the newest N folders, whatever their size or age.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--ledger", "ledger_path", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Use this ledger file (its runs/ folder) instead of $AIBENCH_HOME/ledger.sqlite3.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")
def gc(max_size: int | None, max_age: str, keep_last: int, dry_run: bool, ledger_path: str | None,
       as_json: bool) -> None:
    """Remove old run folders beyond a budget; every run's record stays in the ledger.

    Each 'aibench run' leaves $AIBENCH_HOME/runs/<run id> (the unpacked bundle and submission,
    outputs, logs). Newest first, the newest --keep folders are kept; after them a folder goes
    when its run is older than --max-age, or when the folders kept so far would exceed
    --max-size. The record of a removed folder gets 'collected_at' ('aibench history --json').
    Folders of running runs, folders given with --work-dir and folders no record names are
    never touched. 'aibench run' applies the defaults before each run (AIBENCH_GC=0: never).

    \b
    Examples:
      aibench gc --dry-run                     what the defaults would remove
      aibench gc --max-size 2G --keep 5        keep 2 GiB of run folders, at least the newest 5
      aibench gc --max-age 7d --max-size off --json
    """
    from ..run.gc import Retention, collect
    from ..run.ledger import Ledger, LedgerError

    retention = Retention(max_bytes=max_size, max_age_days=_age(max_age), keep_last=keep_last)
    try:
        with Ledger.open(ledger_path) as ledger:
            report = collect(ledger, retention, dry_run=dry_run)
    except LedgerError as error:
        if as_json:
            echo_json({"gc_version": 1, "status": "error", "reason": error.reason, "message": str(error)})
            raise SystemExit(1) from None
        raise click.ClickException(str(error)) from None
    if as_json:
        echo_json(report.to_json())
        raise SystemExit(1 if report.errors else 0)
    verb = "would remove" if dry_run else "removed"
    if report.removed:
        click.echo(table(("RUN", "STARTED (UTC)", "STATUS", "MiB", "WHY"),
                         [(r["run_id"][:8], r["started_at"][:19].replace("T", " "), r["status"],
                           f"{r['bytes'] / 2**20:.1f}", r["reason"]) for r in report.removed]))
    for skipped in report.skipped:
        click.echo(f"left alone: {skipped['work_dir']}: {skipped['reason']}", err=True)
    for problem in report.errors:
        click.echo(f"error: could not remove {problem}", err=True)
    click.echo(f"{verb} {len(report.removed)} run folder(s), {report.freed_bytes / 2**20:.1f} MiB; kept "
               f"{report.kept}, {report.kept_bytes / 2**20:.1f} MiB. The records stay ('aibench history').")
    if report.errors:
        raise SystemExit(1)
