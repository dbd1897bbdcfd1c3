"""The ``aibench`` command line. One module per command group; each imports what it
needs when it runs, so ``aibench --help`` stays fast."""

from __future__ import annotations

import sys

import click

from .gc import gc
from .history import history
from .leaderboard import leaderboard
from .new_plugin import new_plugin
from .plugins import plugins
from .rerun import rerun
from .rescore import rescore
from .run import run
from .schema import schema
from .validate import validate
from .wrap import wrap

__all__ = ["cli", "main"]


def _version() -> str:
    from importlib.metadata import version

    return version("aibench-plugins")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="aibench-plugins", prog_name="aibench", message="%(prog)s %(version)s")
def cli() -> None:
    """Add metrics, checks and measurements to CodaLab / Codabench competition bundles.

    An organiser puts an aibench.json manifest next to competition.yaml; the original
    scoring program is never edited.

    \b
    Examples:
      aibench validate bundles/iris-v2        check a bundle and its manifest
      aibench run bundles/iris-v2 examples/submissions/iris-v2/good
                                              run a submission as the worker would
      aibench history                         every run, newest first
      aibench leaderboard bundles/iris-v2     the phase's ranking: intervals, stability, tiers
      aibench gc --dry-run                    which old run folders the retention would remove
      aibench plugins list --json             what is installed, as JSON
      aibench schema > aibench.schema.json    the manifest schema, for editors
      aibench wrap bundles/iris-v2 -o out.zip a bundle the platform's worker runs with the plugins
      aibench plugins show aibench.f1         one component: description, direction, params
      aibench new-plugin aibench-acme-metrics a ready plugin distribution to start from

    Exit status: 0 on success, 1 when problems were found, 2 on a usage error.
    """
    _reap_containers()


def _reap_containers() -> None:
    """Remove the Docker executor's containers left by an ``aibench`` process that was killed, or
    past their deadline, before any command (``history`` included; not for ``--help``). Costs a
    few milliseconds with an engine, nothing without one; never fails a command (stdlib only,
    no docker SDK: :func:`codalab_worker_compat._reaper.reap_quick`)."""
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        return
    import importlib.util

    # _reaper is stdlib only: loaded from its file, it spares the ~100 ms import of the package
    package = importlib.util.find_spec("codalab_worker_compat")
    locations = list(package.submodule_search_locations or []) if package is not None else []
    if not locations:
        return
    spec = importlib.util.spec_from_file_location("_aibench_reaper", f"{locations[0]}/_reaper.py")
    if spec is None or spec.loader is None:
        return
    reaper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reaper)
    reaper.reap_quick(timeout=1.0)


cli.add_command(validate)
cli.add_command(run)
cli.add_command(history)
cli.add_command(rerun)
cli.add_command(leaderboard)
cli.add_command(gc)
cli.add_command(plugins)
cli.add_command(schema)
cli.add_command(wrap)
cli.add_command(new_plugin)
cli.add_command(rescore)


def main() -> None:
    """Entry point of the ``aibench`` console script. Bad input is every command's to report (a
    message, never a traceback); an exception that still escapes is a bug of aibench: its
    traceback goes to a file, and the user reads one line that says so (exit status 1)."""
    try:
        cli(prog_name="aibench", standalone_mode=True)
    except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback on a user's screen
        click.echo(internal_error(error), err=True)
        raise SystemExit(1) from None


def internal_error(error: BaseException) -> str:
    """The one line shown for an exception no command handled, its traceback kept in a file."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        with tempfile.NamedTemporaryFile("w", prefix="aibench-crash-", suffix=".txt", delete=False,
                                         encoding="utf-8") as out:
            out.write(text)
        where = f"the details are in {out.name}"
    except OSError:
        where = "the details could not be written to a file"
    return (f"aibench: internal error ({type(error).__name__}: {str(error)[:300]}). This is a bug of aibench, not a "
            f"fault of your bundle or submission; {where}: please report it with that file.")
