"""``aibench rerun RUN_ID``: a recorded run run again, and whether its scores match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from ._output import echo_json, table

__all__ = ["rerun"]


@click.command()
@click.argument("run_id")
@click.option("--image", default=None, metavar="IMAGE",
              help="Run in this image (name or ID) instead of the recorded image ID; the report then says the "
                   "image differs. Docker executor only.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="X",
              help="Numbers within X of each other, absolutely or relatively (math.isclose), count as equal. "
                   "Default: exact.")
@click.option("--ignore", "ignore", multiple=True, metavar="KEY",
              help="A leaderboard column to show but not count (a duration the scoring program reports, say); "
                   "repeatable.")
@click.option("--allow-changed-inputs", is_flag=True,
              help="Run even when the bundle or the submission changed since the recorded run (the changes are "
                   "listed). Default: refuse, showing the recorded and the found sha256.")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Ledger file. Default: $AIBENCH_HOME/ledger.sqlite3.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/reproducibility.md).")
def rerun(run_id: str, image: str | None, tolerance: float, ignore: tuple[str, ...], allow_changed_inputs: bool,
          ledger_path: str | None, as_json: bool) -> None:
    """Run a recorded run again from its reproducibility record and compare.

    RUN_ID is an id from 'aibench history' (a unique prefix is enough). The bundle and the
    submission must still be at their recorded paths with the same sha256; the run uses the
    recorded platform, phase, executor, options and limits, and the image pinned to its
    recorded ID. The new run is recorded in the ledger like any other. Printed: each
    leaderboard column of both runs with the deltas, the status and exit codes, and the
    recorded facts that differ (image, hardware, plugin and engine versions, limits).

    Exit status: 0 when the scores, status and exit codes are the same (facts may differ), 1 when
    they differ or the re-run could not run, 2 when nothing ran because of the command's input
    (unknown run id, a missing or changed input, an option that does not apply).

    \b
    Examples:
      aibench rerun 3f2a9c1e
      aibench rerun 3f2a9c1e --image codalab-compat/py312-aibench:bookworm --json
      aibench rerun 3f2a9c1e --tolerance 1e-9 --ignore duration
    """
    from ..run.rerun import rerun as run_again

    with _reported(as_json):
        report = run_again(run_id, ledger_path, image=image, tolerance=tolerance,
                           allow_changed_inputs=allow_changed_inputs, ignore=ignore)
    if as_json:
        echo_json(report.to_json())
    else:
        _print(report)
    raise SystemExit(0 if report.identical else 1)


@contextmanager
def _reported(as_json: bool) -> Iterator[None]:
    """Each error on purpose as a message (``--json``: an object with ``status: error``), never a
    traceback: 2 when nothing ran because of the input, 1 when the re-run failed."""
    from codalab_worker_compat import BundleError, DockerExecutorError

    from ..core.errors import (LedgerError, LimitsRefused, ManifestError, RerunRefused, RunError, UnknownRunError,
                               UsageError)

    def fail(code: int, text: str, **data: Any) -> NoReturn:
        if as_json:
            echo_json({"rerun_version": 1, "status": "error", "message": text, **data})
        else:
            click.echo(f"Error: {text}", err=True)
        raise SystemExit(code)

    try:
        yield
    except UnknownRunError as error:
        fail(2, f"{error}; 'aibench history' lists the recorded runs", run_id=error.run_id)
    except RerunRefused as error:
        fail(2, str(error), problems=error.problems)
    except UsageError as error:
        fail(2, str(error))
    except RunError as error:
        fail(1, f"the re-run {error.run_id[:8]} failed: {error.message}", run_id=error.run_id)
    except LedgerError as error:
        fail(1, str(error), reason=error.reason)
    except ManifestError as error:
        fail(1, f"the bundle or its aibench.json has problems now; nothing ran:\n{error}",
             problems=[p.to_json() for p in error.problems])
    except (BundleError, DockerExecutorError, LimitsRefused) as error:
        fail(1, str(error))


def _print(report: Any) -> None:
    """The score table, the outcome, the differing facts, the verdict."""
    click.echo(f"rerun of {report.original.id[:8]}: run {report.rerun.id[:8]}"
               + (f" in image {report.image_override} (--image)" if report.image_override else ""))
    for change in report.changed_inputs:
        click.echo(f"  changed input ({change['input']}): {change['path']}: recorded {change['expected']}, "
                   f"now {change['found']}", err=True)
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
    rows = [(s.key, _value(s.old), _value(s.new), "-" if s.abs_delta is None else f"{s.abs_delta:+.6g}",
             "-" if s.rel_delta is None else f"{s.rel_delta:+.3g}",
             ("yes" if s.equal else "no") + " (ignored)" if s.ignored else "yes" if s.equal else "NO")
            for s in report.scores]
    if rows:
        click.echo("\n" + table(("COLUMN", "RECORDED", "RERUN", "ABS DELTA", "REL DELTA", "EQUAL"), rows))
    else:
        click.echo("\nneither run has scores")
    outcome = report.outcome
    for name in ("status", "exit_codes"):
        item = outcome[name]
        same = "same" if item["equal"] else "DIFFERENT"
        click.echo(f"{name.replace('_', ' ')}: {same}: {_value(item['old'], 200)}"
                   + ("" if item["equal"] else f" -> {_value(item['new'], 200)}"))
    if report.facts:
        click.echo(f"\nrecorded facts that differ ({', '.join(report.differing_groups())}):")
        click.echo(table(("FACT", "RECORDED", "RERUN"), [(f.fact, _value(f.old, 80), _value(f.new, 80))
                                                          for f in report.facts]))
    else:
        click.echo("\nrecorded facts: all the same (image, engine, software, hardware, limits, seeds, inputs)")
    if report.identical:
        click.echo("\nresult: identical" + (" (scores within the tolerance)" if report.tolerance else "")
                   + (f"; recorded facts differ: {', '.join(report.differing_groups())}" if report.facts else ""))
    else:
        click.echo("\nresult: DIFFERENT" + (f" (recorded facts that differ, a possible reason: "
                                            f"{', '.join(report.differing_groups())})" if report.facts else ""))


def _value(value: Any, width: int = 60) -> str:
    text = "-" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."
